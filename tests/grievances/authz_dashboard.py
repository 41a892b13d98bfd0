"""Authorization expectations for the grievance dashboard pages (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.base import Personas


def local(p: Personas) -> dict[str, Any]:
    return {"code": p.local.code}


#                                  anon member steward organizer rep  admin outsider
EXPECTATIONS: dict = {
    "grievances:dash_local": (local, (302, 404, 200, 200, 200, 200, 404)),
    "grievances:dash_export": (local, (302, 404, 200, 200, 200, 200, 404)),
}
