"""Authorization expectations for the roll pages (merged by tests/test_authorization_matrix.py).

Write-only URLs answer GET with 405 to everyone logged in (before any lookup, so nothing leaks);
their POST rules are tested in tests/membership/test_roll.py.
"""

from __future__ import annotations

from typing import Any

from tests.base import Personas


def local(p: Personas) -> dict[str, Any]:
    return {"local_code": p.local.code}


def member(p: Personas) -> dict[str, Any]:
    return {"member_code": p.member.member.code}


POST_ONLY = (302, 405, 405, 405, 405, 405, 405)
#                              anon  member steward organizer rep  admin  outsider
EXPECTATIONS: dict = {
    "membership:roll_list": (local, (302, 404, 200, 200, 200, 200, 404)),
    "membership:roll_pending": (local, (302, 404, 403, 200, 403, 200, 404)),
    "membership:roll_export": (local, (302, 404, 403, 200, 403, 200, 404)),
    "membership:roll_import": (local, (302, 404, 403, 200, 403, 200, 404)),
    "membership:roll_import_commit": (local, POST_ONLY),
    "membership:roll_member": (member, (302, 404, 200, 200, 200, 200, 404)),
    "membership:roll_member_status": (member, POST_ONLY),
    "membership:roll_member_dues": (member, POST_ONLY),
    "membership:roll_member_unit": (member, POST_ONLY),
    "membership:roll_member_notes": (member, POST_ONLY),
    "membership:roll_member_role": (member, POST_ONLY),
    "membership:roll_verify": (member, POST_ONLY),
    "membership:roll_reject": (member, POST_ONLY),
}
