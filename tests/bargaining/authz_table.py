"""Authorization expectations for the table log, the tentative agreement and the previews.

Merged by tests/test_authorization_matrix.py; personas as in tests/bargaining/authz_campaigns.py:
member and steward read (403 on edits), representative and local admin edit, organizer and
outsider get 404.
"""

from __future__ import annotations

from typing import Any

from bargaining.models import Campaign
from bargaining.models_table import DocumentPreview
from bargaining.previews import preview_of
from bargaining.services import agreement_generate, demands_document_generate
from bargaining.table import demand_status_set, table_open
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas
from union.documents import document_store
from union.models import Document

# A 1x1 PNG: the matrix checks who may fetch a preview, not how it is drawn (no pdftoppm needed).
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def _with_preview(document: Document) -> None:
    if preview_of(document) is None:
        image = document_store(kind=f"{document.kind}_preview", owner_code=document.owner_code, content=PIXEL,
                               actor_id=None, content_type="image/png")
        DocumentPreview.objects.create(document=document, image=image)


def campaign(p: Personas) -> dict[str, Any]:
    return {"code": make_campaign(p).code}


def demand(p: Personas) -> dict[str, Any]:
    return {"code": make_demand(p).code}


def document(p: Personas) -> dict[str, Any]:
    campaign = make_demand(p).campaign
    kept = demands_document_generate(actor_id=p.representative.pk, campaign_id=campaign.pk)
    _with_preview(kept.document)
    return {"code": campaign.code, "version": kept.document.version}


def agreement(p: Personas) -> dict[str, Any]:
    demand = make_demand(p)
    Campaign.objects.filter(pk=demand.campaign_id).update(stage=Campaign.Stage.TABLED)
    table_open(actor=p.representative, campaign=Campaign.objects.get(pk=demand.campaign_id))
    demand_status_set(actor=p.representative, demand=demand, status="tentative")
    kept = agreement_generate(actor_id=p.representative.pk, campaign_id=demand.campaign_id)
    _with_preview(kept.document)
    return {"code": demand.campaign.code, "version": kept.document.version}


READ = (302, 200, 200, 404, 200, 200, 404)
POST_ONLY = (302, 405, 405, 405, 405, 405, 405)
#                                          anon member steward organizer rep  admin outsider
EXPECTATIONS: dict = {
    "bargaining:campaign_table": (campaign, READ),
    "bargaining:campaign_table_open": (campaign, POST_ONLY),
    "bargaining:demand_table": (demand, READ),
    "bargaining:demand_table_entry": (demand, POST_ONLY),
    "bargaining:demand_table_status": (demand, POST_ONLY),
    "bargaining:agreement_generate": (campaign, POST_ONLY),
    "bargaining:agreement_download": (agreement, READ),
    "bargaining:agreement_preview": (agreement, READ),
    "bargaining:campaign_document_preview": (document, READ),
}
