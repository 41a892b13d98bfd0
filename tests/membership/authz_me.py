"""Authorization expectations for the me pages (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.base import Personas


def none(p: Personas) -> dict[str, Any]:
    return {}


# Every logged-in persona has a member record of their own; these pages only ever show that one.
#                                anon member steward organizer rep  admin outsider
def email_token(p: Personas) -> dict[str, Any]:
    return {"token": "bad:token"}


EXPECTATIONS: dict = {
    "membership:me_email_confirm": (email_token, (404, 404, 404, 404, 404, 404, 404)),  # a forged link
    "membership:me_home": (none, (302, 200, 200, 200, 200, 200, 200)),
    "membership:me_edit": (none, (302, 200, 200, 200, 200, 200, 200)),
    "membership:me_export": (none, (302, 200, 200, 200, 200, 200, 200)),
    "membership:me_resign": (none, (302, 200, 200, 200, 200, 200, 200)),
    "membership:me_erase": (none, (302, 200, 200, 200, 200, 200, 200)),
    "membership:me_time_zone": (none, (302, 200, 200, 200, 200, 200, 200)),
}
