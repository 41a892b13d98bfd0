"""Bargaining campaigns, their demands and the revisions of each demand.

A campaign belongs to one local and covers one or more of its bargaining units. Its committee is
the representatives who draft the demands (bargaining/permissions.py says who sees and edits what).
Demand text is kept in clear: the demands are written to be tabled before the employer, and the
linked grievances (whose titles and narratives are encrypted) are referred to by id only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grievances.models import Grievance
from membership.models import BargainingUnit, Local


class Campaign(models.Model):
    class Stage(models.TextChoices):
        DRAFTING = "drafting", _("Drafting")
        CONSULTATION = "consultation", _("Consultation")
        RATIFICATION = "ratification", _("Ratification")
        TABLED = "tabled", _("Tabled")
        NEGOTIATING = "negotiating", _("Negotiating")
        TENTATIVE = "tentative", _("Tentative agreement")
        CONCLUDED = "concluded", _("Concluded")

    class Language(models.TextChoices):
        # The languages the demands document is printed in (fonts shipped in static/fonts/).
        EN = "en", "English"
        FR = "fr", "Français"
        SW = "sw", "Kiswahili"
        ES = "es", "Español"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    local = models.ForeignKey(Local, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(_("name"), max_length=200)
    units = models.ManyToManyField(BargainingUnit, related_name="campaigns", verbose_name=_("bargaining units"))
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.DRAFTING)
    committee = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="bargaining_committees",
                                       blank=True, verbose_name=_("bargaining committee"))
    language = models.CharField(_("language of the document"), max_length=2, choices=Language.choices,
                                default=Language.EN)
    # The timeline: each date optional, as a campaign learns them one by one.
    consultation_ends_on = models.DateField(_("consultation ends"), null=True, blank=True)
    ratification_on = models.DateField(_("ratification vote"), null=True, blank=True)
    tabled_on = models.DateField(_("tabled before the employer"), null=True, blank=True)
    agreement_expires_on = models.DateField(_("current agreement expires"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Demand(models.Model):
    class Category(models.TextChoices):
        PAY = "pay", _("Pay")
        WELLBEING = "wellbeing", _("Mental health and wellbeing")
        WORKLOAD = "workload", _("Workload and quotas")
        TRANSPARENCY = "transparency", _("Transparency about clients and end use")
        SECURITY = "security", _("Job security")
        RECOGNITION = "recognition", _("Recognition")
        OTHER = "other", _("Other")

    class Priority(models.IntegerChoices):
        HIGH = 1, _("High")
        MEDIUM = 2, _("Medium")
        LOW = 3, _("Low")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="demands")
    # The article number: given in order of creation, shown as "Article 3".
    number = models.PositiveIntegerField()
    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    text = models.TextField(_("text"), max_length=20000,
                            help_text=_("Paragraphs, *emphasis*, **bold**, lists and https links. HTML is shown as text."))
    rationale = models.TextField(_("rationale"), max_length=20000, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.MEDIUM)
    cost_estimate = models.CharField(_("cost estimate"), max_length=200, blank=True)
    grievances = models.ManyToManyField(Grievance, related_name="demands", blank=True,
                                        verbose_name=_("grievances that motivate it"))
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="demand_number_unique_in_campaign")]

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class DemandRevision(models.Model):
    """One saved state of a demand: every edit adds one, none is ever changed."""

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=16, choices=Demand.Category.choices)
    text = models.TextField()
    rationale = models.TextField(blank=True)
    priority = models.PositiveSmallIntegerField(choices=Demand.Priority.choices)
    cost_estimate = models.CharField(max_length=200, blank=True)
    grievance_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["demand", "number"], name="revision_number_unique_in_demand")]

    def __str__(self) -> str:
        return f"{self.demand_id} r{self.number}"


class DemandDocument(models.Model):
    """A generated demands PDF, kept by the shared document layer (union.Document).

    `content_sha256` is the hash of the canonical demand set the PDF was made from (what is printed
    in the PDF's footer: a file cannot contain its own hash); `document.sha256` is the hash of the
    PDF bytes, shown on the page. Unchanged content is not stored again, and renders to the same
    bytes anyway (bargaining/documents.py).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="documents")
    document = models.OneToOneField("union.Document", on_delete=models.PROTECT, related_name="+")
    content_sha256 = models.CharField(max_length=64)
    ratified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.campaign_id} v{self.document_id}"


class Ballot(models.Model):
    """A secret-ballot ratification vote on the whole set of demands, or on one demand.

    Secrecy by schema: a `Vote` row holds the ballot, the choice and a random receipt, and nothing
    else (no voter, no time, a random primary key so its order says nothing); who voted is a flag on
    the voter's `Eligibility` row (no time either). Nothing shared lets anyone join the two; see
    bargaining/ballots.py for what this cannot hide.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="ballots")
    # Empty: the whole set of demands.
    demand = models.ForeignKey(Demand, on_delete=models.PROTECT, null=True, blank=True, related_name="ballots")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # The "%" in these labels is a percent sign, not a placeholder (xgettext would flag "% o" as one).
    quorum_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("quorum (% of eligible voters)"), default=50)
    threshold_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("threshold (% of yes among yes and no)"), default=50)
    eligible_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Published at the close, not before.
    result = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.code)


class Eligibility(models.Model):
    """One eligible voter of a ballot, fixed when it opens, and whether they have voted (no time)."""

    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="eligible")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    has_voted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ballot", "user"], name="one_eligibility_per_voter")]

    def __str__(self) -> str:
        return f"{self.ballot_id}:{self.user_id}"


class Vote(models.Model):
    class Choice(models.TextChoices):
        YES = "yes", _("Yes")
        NO = "no", _("No")
        ABSTAIN = "abstain", _("Abstain")

    # Random, so the key's order carries no hint of the order in which people voted.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="votes")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    receipt = models.CharField(max_length=32, unique=True)

    def __str__(self) -> str:
        return self.receipt


# The table log, agreements and previews live in their own module; importing them here registers them.
from bargaining.models_table import AgreementDocument, DemandStatusChange, DocumentPreview, TableEntry  # noqa: E402

__all__ = ["AgreementDocument", "Ballot", "Campaign", "Demand", "DemandDocument", "DemandRevision",
           "DemandStatusChange", "DocumentPreview", "Eligibility", "TableEntry", "Vote"]
