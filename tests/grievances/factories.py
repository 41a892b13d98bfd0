from __future__ import annotations

from typing import Any

from grievances.defaults import ensure_defaults
from grievances.models import Category, Grievance, Step
from grievances.services import grievance_assign, grievance_create, grievance_submit
from membership.models import Member
from tests.base import Personas
from tests.factories import make_unit


def make_case(p: Personas, *, submit: bool = True, assign: bool = True, category: str = "pay",
              country: str = "KE", **fields: Any) -> Grievance:
    ensure_defaults(p.local.union)
    unit = make_unit(p.local, country=country)
    grievance = grievance_create(
        actor=p.member, local=p.local, unit=unit, category=Category.objects.get(union=p.local.union, slug=category),
        grievants=[Member.objects.get(user=p.member)], title="Unpaid overtime",
        narrative=fields.pop("narrative", "They did not pay the night shift."), remedy="Pay what is owed", **fields,
    )
    if submit:
        grievance = grievance_submit(actor=p.member, grievance=grievance)
    if submit and assign:
        grievance = grievance_assign(actor=p.local_admin, grievance=grievance, steward=p.steward)
    return grievance


def number(grievance: Grievance) -> str:
    """A filed case's number (a draft has none)."""
    assert grievance.number is not None, "the case was not filed"
    return grievance.number


def current_step(grievance: Grievance) -> Step:
    """The step a filed case is at (a draft has none)."""
    assert grievance.step is not None, "the case was not filed"
    return grievance.step
