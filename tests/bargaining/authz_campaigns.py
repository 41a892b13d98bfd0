"""Authorization expectations for the bargaining pages (merged by tests/test_authorization_matrix.py).

See tests/bargaining/factories.py: the member and the steward work in the campaign's unit (read,
403 on edits); the representative is on the committee and the local admin administers the local
(edit); the organizer is in no unit of the campaign and the outsider is in another local (404).
"""

from __future__ import annotations

from typing import Any

from bargaining.ballots import ballot_open
from bargaining.consultation import comment_add, survey_open
from bargaining.models import Campaign
from bargaining.services import demands_document_generate
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas


def none(p: Personas) -> dict[str, Any]:
    return {}


def campaign(p: Personas) -> dict[str, Any]:
    return {"code": make_campaign(p).code}


def demand(p: Personas) -> dict[str, Any]:
    return {"code": make_demand(p).code}


def document(p: Personas) -> dict[str, Any]:
    campaign = make_demand(p).campaign
    kept = demands_document_generate(actor_id=p.representative.pk, campaign_id=campaign.pk)
    return {"code": campaign.code, "version": kept.document.version}


def ballot(p: Personas) -> dict[str, Any]:
    return {"code": ballot_open(actor=p.representative, campaign=make_campaign(p)).code}


def comment(p: Personas) -> dict[str, Any]:
    """A named comment by the member: only its author edits it."""
    return {"code": comment_add(author=p.member, demand=make_demand(p), body="Agreed.").code}


def survey(p: Personas) -> dict[str, Any]:
    """An open survey: its results are for the local's representatives and admins until the close."""
    campaign = make_campaign(p)
    make_demand(p, campaign)
    make_demand(p, campaign, title="A living wage")
    Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.CONSULTATION)
    return {"code": survey_open(actor=p.representative, campaign=campaign, method="ranking").code}


READ = (302, 200, 200, 404, 200, 200, 404)
EDIT = (302, 403, 403, 404, 200, 200, 404)
POST_ONLY = (302, 405, 405, 405, 405, 405, 405)
#                                          anon member steward organizer rep  admin outsider
EXPECTATIONS: dict = {
    "bargaining:campaign_list": (none, (302, 200, 200, 200, 200, 200, 200)),
    "bargaining:campaign_new": (none, (302, 403, 403, 403, 200, 200, 403)),
    "bargaining:campaign_detail": (campaign, READ),
    "bargaining:campaign_edit": (campaign, EDIT),
    "bargaining:demand_new": (campaign, EDIT),
    "bargaining:demand_detail": (demand, READ),
    "bargaining:demand_edit": (demand, EDIT),
    "bargaining:demand_diff": (demand, READ),
    "bargaining:campaign_documents": (campaign, READ),
    "bargaining:campaign_document_generate": (campaign, (302, 405, 405, 405, 405, 405, 405)),  # POST only
    "bargaining:campaign_document_download": (document, READ),
    "bargaining:ballot_new": (campaign, (302, 405, 405, 405, 405, 405, 405)),  # POST only
    "bargaining:ballot_detail": (ballot, READ),
    "bargaining:ballot_vote": (ballot, (302, 405, 405, 405, 405, 405, 405)),  # POST only
    "bargaining:ballot_close": (ballot, (302, 405, 405, 405, 405, 405, 405)),  # POST only
    "bargaining:comment_add": (demand, POST_ONLY),
    "bargaining:endorse": (demand, POST_ONLY),
    "bargaining:comment_edit": (comment, (302, 200, 404, 404, 404, 404, 404)),  # the author only
    "bargaining:comment_delete": (comment, POST_ONLY),
    "bargaining:comment_hide": (comment, POST_ONLY),
    "bargaining:comment_restore": (comment, POST_ONLY),
    "bargaining:survey_new": (campaign, POST_ONLY),
    "bargaining:survey_detail": (survey, READ),
    "bargaining:survey_respond": (survey, POST_ONLY),
    "bargaining:survey_close": (survey, POST_ONLY),
    "bargaining:survey_results": (survey, (302, 404, 404, 404, 200, 200, 404)),  # live: officers only
}
