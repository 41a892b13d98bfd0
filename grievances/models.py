"""Grievance cases: categories and workflow steps per union, cases, their timeline, evidence and letters."""

from __future__ import annotations

import uuid
from datetime import date

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grievances.deadlines import CALENDAR, WORKING, deadline_state
from membership.models import BargainingUnit, Employer, Local, Member, Union, User
from union.fields import EncryptedTextField
from union.files import StoredFileField
from union.models import Document


class Category(models.Model):
    """A kind of grievance, per union (seeded with the defaults in grievances/defaults.py)."""

    union = models.ForeignKey(Union, on_delete=models.CASCADE, related_name="grievance_categories")
    slug = models.SlugField(max_length=40)
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_retaliation = models.BooleanField(default=False)
    is_health = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["union", "slug"], name="category_slug_unique_in_union")]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    """A workflow step and its deadline rule: `deadline_days` after entering the step."""

    class DayKind(models.TextChoices):
        CALENDAR = CALENDAR, _("calendar days")
        WORKING = WORKING, _("working days")

    union = models.ForeignKey(Union, on_delete=models.CASCADE, related_name="grievance_steps")
    slug = models.SlugField(max_length=40)
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField()
    deadline_days = models.PositiveSmallIntegerField(_("deadline"), validators=[MaxValueValidator(365)])
    day_kind = models.CharField(max_length=10, choices=DayKind.choices, default=DayKind.WORKING)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["union", "slug"], name="step_slug_unique_in_union"),
            models.UniqueConstraint(fields=["union", "position"], name="step_position_unique_in_union"),
        ]

    def __str__(self) -> str:
        return self.name


class GrievanceQuerySet(models.QuerySet["Grievance"]):
    def open(self) -> GrievanceQuerySet:
        return self.filter(status=Grievance.Status.OPEN)


class Grievance(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class Confidentiality(models.TextChoices):
        NORMAL = "normal", _("Normal")
        NO_LETTER = "no_letter", _("Hidden from the employer-facing letter")
        RESTRICTED = "restricted", _("Restricted to the assigned steward and local admins")

    class Outcome(models.TextChoices):
        WON = "won", _("Won")
        SETTLED = "settled", _("Settled")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        LOST = "lost", _("Lost")
        REFERRED = "referred", _("Referred")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    # Always local.union (and employer is unit.employer when a unit is set): copied at filing so
    # numbering and the dashboard filter without joins. grievance_create is the only writer.
    union = models.ForeignKey(Union, on_delete=models.PROTECT, related_name="grievances")
    local = models.ForeignKey(Local, on_delete=models.PROTECT, related_name="grievances")
    unit = models.ForeignKey(BargainingUnit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    employer = models.ForeignKey(Employer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="grievances")
    grievants: models.ManyToManyField[Member, Grievant] = models.ManyToManyField(
        Member, related_name="grievances", through="Grievant")
    filed_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    # Encrypted too: a title often says what happened to whom ("fired after the union meeting").
    title = EncryptedTextField(_("short title"))
    incident_date = models.DateField(_("date of the incident"), null=True, blank=True)
    contract_article = models.CharField(_("contract article"), max_length=120, blank=True)
    remedy = EncryptedTextField(_("remedy sought"), null=True, blank=True)
    narrative = EncryptedTextField(_("what happened"), null=True, blank=True)
    confidentiality = models.CharField(max_length=12, choices=Confidentiality.choices, default=Confidentiality.NORMAL)
    sensitive = models.BooleanField(_("sensitive: show a content warning before the narrative"), default=False)
    letter_may_name = models.BooleanField(_("the letter to the employer may name the grievants"), default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    step = models.ForeignKey(Step, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    step_started = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    settlement_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    steward = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_grievances")
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = GrievanceQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["local", "status", "due_date"], name="grievance_local_status_due")]

    def __str__(self) -> str:
        return self.number or f"draft {self.code}"

    @property
    def country(self) -> str:
        return self.unit.country if self.unit is not None else ""

    def deadline_state(self, today: date | None = None) -> str:
        if self.status != self.Status.OPEN:
            return "ok"
        return deadline_state(self.due_date, today or timezone.localdate(), country=self.country)

    @property
    def is_overdue(self) -> bool:
        return self.deadline_state() == "overdue"

    @property
    def is_due_soon(self) -> bool:
        return self.deadline_state() == "due_soon"


class Grievant(models.Model):
    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE)
    member = models.ForeignKey(Member, on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grievance", "member"], name="grievant_once")]

    def __str__(self) -> str:
        return f"{self.member} in {self.grievance}"


class CaseCounter(models.Model):
    """Per union and year, the last case number issued; locked while numbering a case."""

    union = models.ForeignKey(Union, on_delete=models.CASCADE)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["union", "year"], name="case_counter_unique")]

    def __str__(self) -> str:
        return f"{self.union} {self.year}: {self.last}"


class Event(models.Model):
    """One append-only entry of a case's timeline. A correction is a new event pointing back."""

    class Kind(models.TextChoices):
        FILED = "filed", _("Filed")
        STATUS = "status", _("Status change")
        STEP = "step", _("Moved to a step")
        NOTE = "note", _("Internal note")
        SHARED_NOTE = "shared_note", _("Note shared with the grievants")
        MEETING = "meeting", _("Meeting")
        EMPLOYER_RESPONSE = "employer_response", _("Employer response")
        DOCUMENT = "document", _("Document")
        ASSIGNMENT = "assignment", _("Steward assigned")
        OUTCOME = "outcome", _("Outcome")
        REOPENED = "reopened", _("Reopened")
        LETTER = "letter", _("Letter issued")
        CORRECTION = "correction", _("Correction")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    shared = models.BooleanField(default=False, help_text="Visible to the grievants")
    body = EncryptedTextField(null=True, blank=True)
    # Codes and ids only (a step slug, an outcome, an account id); never a handle, a name or text.
    data = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    occurred_on = models.DateField(null=True, blank=True)
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.grievance}"


class AdverseAction(models.Model):
    """For retaliation cases: what the employer did, and when, to set beside the organizing timeline."""

    class Kind(models.TextChoices):
        DISMISSAL = "dismissal", _("Dismissal")
        DEACTIVATION = "deactivation", _("Account deactivation")
        QUOTA = "quota", _("Quota change")
        SCORE = "score", _("Quality score change")
        SHIFT = "shift", _("Shift moved")
        REHIRE = "rehire", _("Refused rehire")
        OTHER = "other", _("Other")

    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="adverse_actions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_on = models.DateField()
    description = EncryptedTextField(null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occurred_on", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.occurred_on}"


class Evidence(models.Model):
    """An uploaded file, encrypted on disk outside any public URL; its name is encrypted too."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="evidence")
    filename = EncryptedTextField()
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # Encrypted on disk with the evidence/<name> associated data it always had (union/files.py).
    storage_name = StoredFileField(folder="evidence")
    uploaded_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"evidence {self.code}"


class Custody(models.Model):
    """Chain of custody: every upload and download of a piece of evidence."""

    class Action(models.TextChoices):
        UPLOAD = "upload", _("Uploaded")
        DOWNLOAD = "download", _("Downloaded")

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="custody")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.evidence_id}"


class Letter(models.Model):
    """An issued step letter: a version of the case's "grievances.letter" document, never changed.

    The PDF, its hash and its chain of custody live in the shared document layer (union.Document,
    owner: the case's code); this row adds what the case needs: the step it was issued at and by whom.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    grievance = models.ForeignKey(Grievance, on_delete=models.PROTECT, related_name="letters")
    version = models.PositiveIntegerField()
    step = models.ForeignKey(Step, on_delete=models.PROTECT, null=True, related_name="+")
    document = models.OneToOneField(Document, on_delete=models.PROTECT, related_name="+")
    issued_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    issued_at = models.DateTimeField(default=timezone.now)

    DOCUMENT_KIND = "grievances.letter"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grievance", "version"], name="letter_version_unique")]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.grievance} letter v{self.version}"

    @property
    def sha256(self) -> str:
        return self.document.sha256

    @property
    def size(self) -> int:
        return self.document.size


class LetterRequest(models.Model):
    """A steward asked for a letter; a background task renders and stores it (grievances/tasks.py).

    The facts the steward wrote wait here, encrypted, rather than in the task queue's table, whose
    arguments are plain JSON; they are cleared once the letter is stored (the PDF keeps them).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Being prepared")
        DONE = "done", _("Issued")
        FAILED = "failed", _("Could not be prepared")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="letter_requests")
    facts = EncryptedTextField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    letter = models.OneToOneField(Letter, on_delete=models.SET_NULL, null=True, blank=True, related_name="request")

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"letter request {self.code}"


class Reminder(models.Model):
    """A deadline reminder sent: one per case, due date and day, so a second run sends nothing new."""

    grievance = models.ForeignKey(Grievance, on_delete=models.CASCADE, related_name="reminders")
    due_date = models.DateField()
    sent_on = models.DateField()
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grievance", "due_date", "sent_on", "recipient"], name="reminder_once")
        ]

    def __str__(self) -> str:
        return f"reminder {self.grievance_id} {self.sent_on}"
