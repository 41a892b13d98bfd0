"""Authorization expectations for the grievance cases pages (merged by tests/test_authorization_matrix.py).

The open case is filed by the member and assigned to the steward. Representatives and organizers see
the local's cases but do not work them (403 on write forms); other locals never see them (404).
"""

from __future__ import annotations

from typing import Any

from grievances.models import Event
from grievances.services import event_add
from tests.base import Personas
from tests.grievances.factories import make_case


def none(p: Personas) -> dict[str, Any]:
    return {}


def case(p: Personas) -> dict[str, Any]:
    return {"code": make_case(p).code}


def draft(p: Personas) -> dict[str, Any]:
    return {"code": make_case(p, submit=False).code}


def shared_event(p: Personas) -> dict[str, Any]:
    grievance = make_case(p)
    event = event_add(actor=p.steward, grievance=grievance, kind=Event.Kind.SHARED_NOTE, body="We met HR.")
    return {"code": grievance.code, "event": event.code}


#                                          anon member steward organizer rep  admin outsider
EXPECTATIONS: dict = {
    "grievances:case_list": (none, (302, 302, 200, 200, 200, 200, 302)),
    "grievances:case_mine": (none, (302, 403, 200, 403, 403, 200, 403)),
    "grievances:case_own": (none, (302, 200, 200, 200, 200, 200, 200)),
    "grievances:case_new": (none, (302, 200, 200, 200, 200, 200, 200)),
    "grievances:case_new_for": (none, (302, 403, 200, 403, 403, 200, 403)),
    "grievances:detail": (case, (302, 200, 200, 200, 200, 200, 404)),
    # A draft is seen by whoever filed it (here the member) and nobody else.
    "grievances:case_edit": (draft, (302, 200, 404, 404, 404, 404, 404)),
    "grievances:case_submit": (draft, (302, 405, 405, 405, 405, 405, 405)),
    "grievances:case_event_add": (case, (302, 405, 405, 405, 405, 405, 405)),
    "grievances:case_event_correct": (shared_event, (302, 403, 200, 403, 403, 200, 404)),
}
