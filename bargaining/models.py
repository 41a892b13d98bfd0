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
from union.fields import EncryptedTextField


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


class Comment(models.Model):
    """A comment on a demand by someone who reads its campaign (bargaining/consultation.py).

    The text is encrypted at rest. A named comment keeps its `author`. An anonymous one keeps no
    author: only `author_tag`, a keyed hash (HMAC, key outside the database) of the comment's own
    code and its author's id, so that the server can tell its author "this one is yours" (to edit or
    delete it) while the database alone says nothing about who wrote it. Its time is kept to the
    hour only. The page says what this does not protect against (someone holding the running server
    and its keys can recompute the tag for every member).
    """

    # Random, so the key's order carries no hint of who wrote what after whom.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    anonymous = models.BooleanField(default=False)
    author_tag = models.CharField(max_length=64, blank=True, db_index=True)
    body = EncryptedTextField(_("comment"))
    created_at = models.DateTimeField(default=timezone.now)
    edited = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    hidden_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    hidden_reason = EncryptedTextField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "code"]
        constraints = [
            # An anonymous comment names nobody; a named one always has its author (until erased).
            models.CheckConstraint(condition=models.Q(anonymous=False) | models.Q(author__isnull=True),
                                   name="anonymous_comment_has_no_author"),
        ]

    def __str__(self) -> str:
        return str(self.code)


class Endorsement(models.Model):
    """One member's support for a demand: named (`user`) or anonymous (`tag` only, as for comments).

    The tag is a keyed hash of the demand and the member, so one member endorses a demand once
    either way (unique constraints), and can withdraw, while the database alone names nobody.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="endorsements")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    tag = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["demand", "tag"], name="one_endorsement_per_member"),
        ]

    def __str__(self) -> str:
        return f"{self.demand_id}:{self.pk}"


class Survey(models.Model):
    """A priorities survey of a campaign's members: rank the demands, or spread N dots over them.

    One response per member under concurrency: the member's `Participation` row is unique, with no
    time and no link to the answers. In an anonymous survey the `SurveyResponse` row has no respondent,
    no time and a random key (like a ballot's votes); in a named one it names the respondent.
    """

    class Method(models.TextChoices):
        RANKING = "ranking", _("Ranking: put the demands in order")
        DOTS = "dots", _("Dot-voting: spread a number of dots")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="surveys")
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    dots = models.PositiveSmallIntegerField(_("dots for each member"), default=0)
    anonymous = models.BooleanField(_("anonymous answers"), default=True)
    # The demands asked about, fixed at the opening (a demand added later is not in this survey).
    demands = models.ManyToManyField(Demand, related_name="surveys")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Counted at the close; the pages compute live figures while it is open.
    result = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign"], condition=models.Q(status="open"),
                                    name="one_open_survey_per_campaign"),
        ]

    def __str__(self) -> str:
        return str(self.code)


class Participation(models.Model):
    """That a member has answered a survey: no time, no link to the answers."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="participations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "user"], name="one_response_per_member")]

    def __str__(self) -> str:
        return f"{self.survey_id}:{self.user_id}"


class SurveyResponse(models.Model):
    """One member's answers. Anonymous survey: no respondent, no time, a random key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    # Only in a named survey; always empty in an anonymous one (a check constraint is not possible
    # across tables, so the service is the guard and tests/bargaining/test_consultation.py checks it).
    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    def __str__(self) -> str:
        return str(self.pk)


class SurveyAnswer(models.Model):
    """One demand's rank (1 = most important) or number of dots in one response."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="+")
    value = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["response", "demand"], name="one_answer_per_demand")]

    def __str__(self) -> str:
        return f"{self.response_id}:{self.demand_id}={self.value}"


# The table log, agreements and previews live in their own module; importing them here registers them.
from bargaining.models_table import AgreementDocument, DemandStatusChange, DocumentPreview, TableEntry  # noqa: E402

__all__ = ["AgreementDocument", "Ballot", "Campaign", "Demand", "DemandDocument", "DemandRevision",
           "DemandStatusChange", "DocumentPreview", "Eligibility", "TableEntry", "Vote",
           "Comment", "Endorsement", "Participation", "Survey", "SurveyAnswer", "SurveyResponse"]
