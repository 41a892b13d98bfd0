"""Authorization expectations for the dashboard pages (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.base import Personas


def local(p: Personas) -> dict[str, Any]:
    return {"code": p.local.code}


def assess(p: Personas) -> dict[str, Any]:
    return {"code": p.local.code, "member_code": p.member.member.code}


#                                anon member steward organizer rep  admin outsider
EXPECTATIONS: dict = {
    "membership:dash_local": (local, (302, 404, 200, 200, 200, 200, 404)),
    "membership:dash_support": (local, (302, 404, 200, 200, 200, 200, 404)),
    # POST only: a GET is refused before anything is looked up.
    "membership:dash_assess": (assess, (302, 405, 405, 405, 405, 405, 405)),
}
