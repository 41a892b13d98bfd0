"""Writes of the bargaining app: keyword-only, atomic, audited with ids only.

Services assume the caller checked access (bargaining/permissions.py) and passed objects it may
use (units and grievances chosen from querysets limited to the campaign's local and the editor's
view); they re-check that everything belongs to the campaign's local, as a second line.
Audit details carry codes, ids and counts: never a title or a demand's text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bargaining.models import Campaign, Demand, DemandDocument, DemandRevision
from bargaining.models_table import AgreementDocument
from grievances.models import Grievance
from membership.models import BargainingUnit, Local, User
from union.audit import audit_record
from union.realtime import notify_user

ERR_UNITS = _("Choose at least one bargaining unit of this local.")
ERR_COMMITTEE = _("The committee can only hold representatives and admins of this local.")
ERR_GRIEVANCES = _("A demand can only cite cases of the campaign's local.")

DEMAND_FIELDS = ("title", "category", "text", "rationale", "priority", "cost_estimate")


def _check_campaign_links(local: Local, units: list[BargainingUnit], committee: list[User]) -> None:
    from bargaining.selectors import committee_candidates

    if not units or any(unit.local_id != local.pk for unit in units):
        raise ValidationError(ERR_UNITS)
    allowed = set(committee_candidates(local).values_list("pk", flat=True))
    if any(user.pk not in allowed for user in committee):
        raise ValidationError(ERR_COMMITTEE)


@transaction.atomic
def campaign_create(*, actor: User, local: Local, name: str, units: list[BargainingUnit],
                    committee: list[User], language: str = Campaign.Language.EN,
                    consultation_ends_on: date | None = None, ratification_on: date | None = None,
                    tabled_on: date | None = None, agreement_expires_on: date | None = None) -> Campaign:
    _check_campaign_links(local, units, committee)
    campaign = Campaign(local=local, name=name, language=language, consultation_ends_on=consultation_ends_on,
                        ratification_on=ratification_on, tabled_on=tabled_on,
                        agreement_expires_on=agreement_expires_on)
    campaign.full_clean()
    campaign.save()
    campaign.units.set(units)
    campaign.committee.set(committee)
    audit_record(actor, "bargaining.campaign_create", campaign, local_id=local.pk,
                 units=sorted(u.pk for u in units), committee=sorted(u.pk for u in committee))
    return campaign


@transaction.atomic
def campaign_update(*, actor: User, campaign: Campaign, units: list[BargainingUnit], committee: list[User],
                    **fields: Any) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _check_campaign_links(campaign.local, units, committee)
    allowed = {"name", "stage", "language", "consultation_ends_on", "ratification_on", "tabled_on",
               "agreement_expires_on"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"campaign_update got unexpected fields {sorted(unknown)}")
    for name, value in fields.items():
        setattr(campaign, name, value)
    campaign.full_clean()
    campaign.save()
    campaign.units.set(units)
    campaign.committee.set(committee)
    audit_record(actor, "bargaining.campaign_update", campaign, local_id=campaign.local_id,
                 fields=sorted(fields), stage=campaign.stage, units=sorted(u.pk for u in units),
                 committee=sorted(u.pk for u in committee))
    return campaign


def _check_grievances(campaign: Campaign, grievances: list[Grievance]) -> None:
    if any(g.local_id != campaign.local_id or g.status == Grievance.Status.DRAFT for g in grievances):
        raise ValidationError(ERR_GRIEVANCES)


def _revise(demand: Demand, actor: User, grievances: list[Grievance]) -> DemandRevision:
    latest = demand.revisions.aggregate(n=Max("number"))["n"] or 0
    return DemandRevision.objects.create(
        demand=demand, number=latest + 1, author=actor, created_at=demand.updated_at,
        grievance_ids=sorted(g.pk for g in grievances), **{f: getattr(demand, f) for f in DEMAND_FIELDS})


@transaction.atomic
def demand_create(*, actor: User, campaign: Campaign, title: str, category: str, text: str,
                  rationale: str = "", priority: int = Demand.Priority.MEDIUM, cost_estimate: str = "",
                  grievances: list[Grievance] | tuple[Grievance, ...] = ()) -> Demand:
    """Add the next numbered article; its first revision records who wrote it."""
    # Locking the campaign row serialises numbering: two editors adding at once get 4 and 5.
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    grievances = list(grievances)
    _check_grievances(campaign, grievances)
    number = (campaign.demands.aggregate(n=Max("number"))["n"] or 0) + 1
    demand = Demand(campaign=campaign, number=number, title=title, category=category, text=text,
                    rationale=rationale, priority=priority, cost_estimate=cost_estimate,
                    updated_at=timezone.now())
    demand.full_clean()
    demand.save()
    demand.grievances.set(grievances)
    revision = _revise(demand, actor, grievances)
    audit_record(actor, "bargaining.demand_create", demand, local_id=campaign.local_id,
                 campaign=str(campaign.code), number=number, revision=revision.number,
                 grievances=len(grievances))
    return demand


@transaction.atomic
def demand_update(*, actor: User, demand: Demand, grievances: list[Grievance] | tuple[Grievance, ...],
                  **fields: Any) -> Demand:
    """Change a demand: a new revision with the author and time, unless nothing changed."""
    demand = Demand.objects.select_for_update().select_related("campaign").get(pk=demand.pk)
    unknown = set(fields) - set(DEMAND_FIELDS)
    if unknown:
        raise TypeError(f"demand_update got unexpected fields {sorted(unknown)}")
    grievances = list(grievances)
    _check_grievances(demand.campaign, grievances)
    before = {f: getattr(demand, f) for f in DEMAND_FIELDS}
    before_ids = sorted(demand.grievances.values_list("pk", flat=True))
    for name, value in fields.items():
        setattr(demand, name, value)
    changed = sorted(f for f in DEMAND_FIELDS if getattr(demand, f) != before[f])
    if sorted(g.pk for g in grievances) != before_ids:
        changed.append("grievances")
    if not changed:
        return demand
    demand.updated_at = timezone.now()
    demand.full_clean()
    demand.save()
    demand.grievances.set(grievances)
    revision = _revise(demand, actor, grievances)
    audit_record(actor, "bargaining.demand_update", demand, local_id=demand.campaign.local_id,
                 number=demand.number, revision=revision.number, fields=changed)
    return demand


@transaction.atomic
def demands_document_generate(*, actor_id: int | None, campaign_id: int,
                              progress: Callable[[str], None] | None = None) -> DemandDocument:
    """Render the demands PDF and keep it, with its first-page preview, as the next document version.

    Unchanged content (same canonical demand set, bargaining/documents.py) is not stored again:
    the latest version is returned, with the same hashes. Ids only, as it runs from a task.
    `progress`, if given, hears each step ("start", "layout", "write", "store", "preview").
    """
    from bargaining.documents import KIND, canonical_content, content_digest, latest_document, render_demands_pdf
    from bargaining.previews import preview_store
    from union.documents import document_store

    report = progress or (lambda step: None)
    report("start")
    campaign = Campaign.objects.select_for_update().select_related("local__union").get(pk=campaign_id)
    latest = latest_document(campaign)
    content = canonical_content(campaign)
    if latest is not None and latest.content_sha256 == content_digest(content):
        return latest
    version = (latest.document.version if latest is not None else 0) + 1
    pdf, digest = render_demands_pdf(campaign, version=version, progress=report)
    report("store")
    document = document_store(kind=KIND, owner_code=campaign.code, content=pdf, actor_id=actor_id)
    kept = DemandDocument.objects.create(campaign=campaign, document=document, content_sha256=digest,
                                         ratified=content["ratified"])
    report("preview")
    preview_store(document=document, pdf=pdf, actor_id=actor_id)
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    audit_record(actor, "bargaining.document_generate", campaign,
                 local_id=campaign.local_id, version=document.version, sha256=document.sha256,
                 content_sha256=digest)
    return kept


@transaction.atomic
def agreement_generate(*, actor_id: int | None, campaign_id: int,
                       progress: Callable[[str], None] | None = None) -> AgreementDocument:
    """Render the tentative agreement (bargaining/agreement.py) and keep it, with its preview, as the
    next version; unchanged content is not stored again. Ids only, as it runs from a task. The
    caller checked there is at least one agreed or tentatively agreed article (`has_agreed_articles`)."""
    from bargaining.agreement import KIND, canonical_content, latest_agreement, render_agreement_pdf
    from bargaining.documents import content_digest
    from bargaining.previews import preview_store
    from union.documents import document_store

    report = progress or (lambda step: None)
    report("start")
    campaign = Campaign.objects.select_for_update().select_related("local__union").get(pk=campaign_id)
    latest = latest_agreement(campaign)
    if latest is not None and latest.content_sha256 == content_digest(canonical_content(campaign)):
        return latest
    version = (latest.document.version if latest is not None else 0) + 1
    pdf, digest = render_agreement_pdf(campaign, version=version, progress=report)
    report("store")
    document = document_store(kind=KIND, owner_code=campaign.code, content=pdf, actor_id=actor_id)
    kept = AgreementDocument.objects.create(campaign=campaign, document=document, content_sha256=digest)
    report("preview")
    preview_store(document=document, pdf=pdf, actor_id=actor_id)
    actor = User.objects.filter(pk=actor_id).first() if actor_id is not None else None
    audit_record(actor, "bargaining.agreement_generate", campaign, local_id=campaign.local_id,
                 version=document.version, sha256=document.sha256, content_sha256=digest)
    return kept


def document_ready_notify(*, actor_id: int | None, campaign: Campaign, kind: str, version: int) -> None:
    """Tell whoever asked for a document, on their other open pages and in their language, that
    this version is kept. Sent on commit (union.realtime.notify_user), so never for a version a
    rollback took away; nobody is told when no one asked (a scheduled render) or the account is closed."""
    from django.urls import reverse
    from django.utils import translation
    from django.utils.translation import gettext

    actor = User.objects.filter(pk=actor_id, is_active=True).first() if actor_id is not None else None
    if actor is None:
        return
    with translation.override(actor.language):
        text = (gettext("The demands document, version %(version)s, is ready.") if kind == "demands"
                else gettext("The tentative agreement, version %(version)s, is ready."))
        notify_user(actor.pk, kind="bargaining.document", text=text % {"version": version},
                    url=reverse("bargaining:campaign_detail", kwargs={"code": campaign.code}))
