"""The bargaining table log: services (keyword-only, atomic, audited) and the rows the pages show.

Services assume the caller checked that `actor` edits the campaign (bargaining/permissions.py) and
re-check that what they are given belongs to the article. Audit details carry ids, numbers and
codes: never a text.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bargaining.markup import word_diff
from bargaining.models import Campaign, Demand
from bargaining.models_table import DemandStatusChange, TableEntry
from membership.models import User
from union.audit import audit_record

Status = DemandStatusChange.Status

TABLED_STAGES = frozenset({Campaign.Stage.TABLED, Campaign.Stage.NEGOTIATING, Campaign.Stage.TENTATIVE,
                           Campaign.Stage.CONCLUDED})
# Statuses whose article carries an agreed text (the entry named by the status change).
SETTLED = frozenset({Status.TENTATIVE, Status.AGREED})

ERR_NOT_TABLED = _("The demands are not tabled yet: set the campaign's stage to “Tabled” first.")
ERR_NO_TABLE = _("This article is not on the table yet: record the demands as tabled first.")
ERR_CLOSED = _("This article is agreed or withdrawn: set it back to open before adding a position.")
ERR_ENTRY = _("Choose a position from this article's table log.")
ERR_SOURCE = _("Say who put this position on the table: the union or the employer.")
ERR_STATUS = _("Choose open, tentatively agreed, agreed or withdrawn.")


def _status_change_now(demand: Demand) -> DemandStatusChange | None:
    return demand.status_changes.order_by("-created_at", "-pk").first()


def status_now(demand: Demand) -> str:
    """Where the article stands now: its latest status, "open" until one is set."""
    change = _status_change_now(demand)
    return change.status if change is not None else Status.OPEN


@transaction.atomic
def table_open(*, actor: User, campaign: Campaign) -> int:
    """Put every article not yet on the table there: entry 1, the union's text as it stands (what was asked).

    Returns how many articles were added; run again after a late article is tabled, it adds that one.
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.stage not in TABLED_STAGES:
        raise ValidationError(ERR_NOT_TABLED)
    now = timezone.now()
    new = list(campaign.demands.filter(table_entries__isnull=True).order_by("number"))
    TableEntry.objects.bulk_create([
        TableEntry(demand=d, number=1, source=TableEntry.Source.UNION, text=d.text, author=actor, created_at=now)
        for d in new
    ])
    if new:
        audit_record(actor, "bargaining.table_open", campaign, local_id=campaign.local_id,
                     articles=[d.number for d in new])
    return len(new)


@transaction.atomic
def table_entry_add(*, actor: User, demand: Demand, source: str, text: str, note: str = "") -> TableEntry:
    """Record a position put on the table for the article (a counter-proposal, or the union's answer)."""
    demand = Demand.objects.select_for_update().select_related("campaign").get(pk=demand.pk)
    if source not in TableEntry.Source.values:
        raise ValidationError(ERR_SOURCE)
    latest = demand.table_entries.aggregate(n=Max("number"))["n"]
    if latest is None:
        raise ValidationError(ERR_NO_TABLE)
    status = _status_change_now(demand)
    if status is not None and status.status in (Status.AGREED, Status.WITHDRAWN):
        raise ValidationError(ERR_CLOSED)
    entry = TableEntry(demand=demand, number=latest + 1, source=source, text=text, note=note, author=actor)
    entry.full_clean()
    entry.save()
    audit_record(actor, "bargaining.table_entry_add", demand, local_id=demand.campaign.local_id,
                 campaign=str(demand.campaign.code), number=demand.number, entry=entry.number, source=source)
    return entry


@transaction.atomic
def demand_status_set(*, actor: User, demand: Demand, status: str, entry: TableEntry | None = None,
                      note: str = "") -> DemandStatusChange:
    """Set where the article stands. Tentative and agreed name the agreed text (default: the latest position).

    Setting the status it already has (with the same text) records nothing.
    """
    demand = Demand.objects.select_for_update().select_related("campaign").get(pk=demand.pk)
    if status not in Status.values:
        raise ValidationError(ERR_STATUS)
    last_entry = demand.table_entries.order_by("-number").first()
    if last_entry is None:
        raise ValidationError(ERR_NO_TABLE)
    if status in SETTLED:
        if entry is not None and entry.demand_id != demand.pk:
            raise ValidationError(ERR_ENTRY)
        entry = entry or last_entry
    else:
        entry = None
    current = _status_change_now(demand)
    if current is not None and current.status == status and current.entry_id == (entry.pk if entry else None):
        return current
    if current is None and status == Status.OPEN:
        raise ValidationError(_("This article is open already."))
    change = DemandStatusChange(demand=demand, status=status, entry=entry, note=note, author=actor)
    change.full_clean()
    change.save()
    audit_record(actor, "bargaining.demand_status_set", demand, local_id=demand.campaign.local_id,
                 campaign=str(demand.campaign.code), number=demand.number, status=status,
                 entry=entry.number if entry else None)
    return change


def table_rows(campaign: Campaign) -> list[dict[str, Any]]:
    """Per article, in order: asked (entry 1), current (latest entry), status, agreed entry, and the
    word diff from asked to current. Three queries whatever the number of articles."""
    demands = list(campaign.demands.order_by("number"))
    entries: dict[int, list[TableEntry]] = {}
    for entry in TableEntry.objects.filter(demand__campaign=campaign).select_related("author__member").order_by(
            "demand_id", "number"):
        entries.setdefault(entry.demand_id, []).append(entry)
    statuses: dict[int, DemandStatusChange] = {}
    for changed in DemandStatusChange.objects.filter(demand__campaign=campaign).order_by("created_at", "pk"):
        statuses[changed.demand_id] = changed  # the last one stays
    rows: list[dict[str, Any]] = []
    for demand in demands:
        log = entries.get(demand.pk, [])
        change: DemandStatusChange | None = statuses.get(demand.pk)
        asked, current = (log[0], log[-1]) if log else (None, None)
        rows.append({
            "demand": demand, "tabled": bool(log), "asked": asked, "current": current, "entries": len(log),
            "status": change.status if change else Status.OPEN,
            "status_label": Status(change.status).label if change else Status.OPEN.label,
            "status_change": change,
            "agreed": next((e for e in log if change and e.pk == change.entry_id), None),
            "diff": word_diff(asked.text, current.text) if asked and current and asked.pk != current.pk else None,
        })
    return rows


def entries_with_diffs(demand: Demand) -> list[dict[str, Any]]:
    """The article's positions in order, each with the word diff from the one before."""
    rows: list[dict[str, Any]] = []
    previous: TableEntry | None = None
    for entry in demand.table_entries.select_related("author__member").order_by("number"):
        rows.append({"entry": entry, "diff": word_diff(previous.text, entry.text) if previous else None})
        previous = entry
    return rows
