"""The bargaining table log: what each side put on the table per article, and where each article stands.

Once the demands are tabled, every article gets a log of positions (`TableEntry`): the first is the
union's demand as tabled (what the members asked), then each counter-proposal with its source (the
union or the employer), recorded by the campaign's editors. Its status (open, tentative, agreed,
withdrawn) is a history too (`DemandStatusChange`): the latest row is the status now, and a
tentative or agreed status names the entry whose text was agreed. Nothing here is changed or
deleted; a correction is a new entry or a new status.

Texts are kept in clear like the demands themselves: they are what both parties read at the table.
Also here: the tentative-agreement documents and the first-page previews of generated documents.
Imported at the end of bargaining/models.py, so Django registers these models with the app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bargaining.models import Campaign, Demand


class TableEntry(models.Model):
    class Source(models.TextChoices):
        UNION = "union", _("Union")
        EMPLOYER = "employer", _("Employer")

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="table_entries")
    # 1 is the demand as tabled; the rest in the order they were put on the table.
    number = models.PositiveIntegerField()
    source = models.CharField(_("from"), max_length=8, choices=Source.choices)
    text = models.TextField(_("text"), max_length=20000,
                            help_text=_("Paragraphs, *emphasis*, **bold**, lists and https links. HTML is shown as text."))
    note = models.CharField(_("note"), max_length=300, blank=True,
                            help_text=_("Where and when it was put on the table, for example “session 3, 12 March”."))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["demand", "number"], name="table_entry_number_unique")]

    def __str__(self) -> str:
        return f"{self.demand_id} t{self.number}"


class DemandStatusChange(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        TENTATIVE = "tentative", _("Tentatively agreed")
        AGREED = "agreed", _("Agreed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    demand = models.ForeignKey(Demand, on_delete=models.CASCADE, related_name="status_changes")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # For tentative and agreed: the position whose text was agreed.
    entry = models.ForeignKey(TableEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    note = models.CharField(_("note"), max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.demand_id} {self.status}"


class AgreementDocument(models.Model):
    """A generated tentative-agreement PDF, kept by the shared document layer (kind "bargaining.agreement")."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="agreements")
    document = models.OneToOneField("union.Document", on_delete=models.PROTECT, related_name="+")
    content_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.campaign_id} a{self.document_id}"


class DocumentPreview(models.Model):
    """A small PNG of a kept PDF's first page, itself kept by the document layer (kind "<kind>_preview")."""

    document = models.OneToOneField("union.Document", on_delete=models.PROTECT, related_name="+")
    image = models.OneToOneField("union.Document", on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"preview of {self.document_id}"
