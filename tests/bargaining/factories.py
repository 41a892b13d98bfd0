"""A campaign in the personas' local: one unit where the member and the steward work.

The representative sits on the committee; the organizer works in no unit of the campaign, so the
campaign is hidden from them; the steward reads it (a member of the unit) but may not edit it.
"""

from __future__ import annotations

from typing import Any

from bargaining.models import Campaign, Demand
from bargaining.services import campaign_create, demand_create
from membership.models import Member
from tests.base import Personas
from tests.factories import make_unit


def make_campaign(p: Personas, **fields: Any) -> Campaign:
    unit = make_unit(p.local)
    Member.objects.filter(user__in=[p.member, p.steward]).update(unit=unit)
    return campaign_create(actor=p.local_admin, local=p.local, name=fields.pop("name", "Contract 2027"),
                           units=[unit], committee=[p.representative], **fields)


def make_demand(p: Personas, campaign: Campaign | None = None, **fields: Any) -> Demand:
    values: dict[str, Any] = {"title": "Paid wellness breaks", "category": Demand.Category.WELLBEING,
                              "text": "One paid **15-minute** break every two hours of review."}
    values.update(fields)
    return demand_create(actor=p.representative, campaign=campaign or make_campaign(p), **values)
