"""Authorization expectations for the grievance work pages (merged by tests/test_authorization_matrix.py).

The case is filed by `member` (its grievant) and assigned to `steward`. Organizers and
representatives see the local's cases but do not work them (403 where writing); the outsider gets 404.
Write-only URLs answer GET with 405 to everyone logged in, before any lookup; their POST rules are
tested in tests/grievances/test_work_views.py.

Download rows need a stored file: it is written encrypted under MEDIA_ROOT and removed again when the
test's personas are released (weakref.finalize), so the matrix leaves no file behind.
"""

from __future__ import annotations

import weakref
from typing import Any

from grievances.services import evidence_upload, letter_issue
from tests.base import Personas
from tests.grievances.factories import make_case
from union import files


def case(p: Personas) -> dict[str, Any]:
    return {"code": make_case(p).code}


def retaliation_case(p: Personas) -> dict[str, Any]:
    return {"code": make_case(p, category="retaliation").code}


def evidence(p: Personas) -> dict[str, Any]:
    item = evidence_upload(actor=p.steward, grievance=make_case(p), name="notes.txt", content=b"shift log\n")
    weakref.finalize(p, files.remove, "evidence", item.storage_name)
    return {"code": item.code}


def letter(p: Personas) -> dict[str, Any]:
    item = letter_issue(actor=p.steward, grievance=make_case(p), facts="The night shift went unpaid.")
    weakref.finalize(p, files.remove, "documents", item.document.storage_name)
    return {"code": item.code}


POST_ONLY = (302, 405, 405, 405, 405, 405, 405)
#                              anon  member steward organizer rep  admin  outsider
EXPECTATIONS: dict = {
    "grievances:work_actions": (case, (302, 403, 200, 403, 403, 200, 404)),
    "grievances:work_advance": (case, POST_ONLY),
    "grievances:work_close": (case, POST_ONLY),
    "grievances:work_reopen": (case, POST_ONLY),
    "grievances:work_assign": (case, POST_ONLY),
    "grievances:work_adverse": (case, POST_ONLY),
    "grievances:work_register": (retaliation_case, (302, 404, 200, 200, 200, 200, 404)),
    "grievances:work_evidence": (case, (302, 200, 200, 200, 200, 200, 404)),
    "grievances:work_evidence_upload": (case, POST_ONLY),
    "grievances:work_evidence_download": (evidence, (302, 200, 200, 200, 200, 200, 404)),
    "grievances:work_letters": (case, (302, 404, 200, 200, 200, 200, 404)),
    "grievances:work_letter_issue": (case, POST_ONLY),
    "grievances:work_letter_download": (letter, (302, 404, 200, 200, 200, 200, 404)),
}
