"""Authorization rows for the verification pages and the people API (joined into
tests/test_authorization_matrix.py).

Every persona of the local is in the local room's commit; the person looked up is the
representative, so the representative meets their own id (the page sends them to their safety
number; the API answers, as it does for oneself) and the outsider gets 404.
"""

from __future__ import annotations

from typing import Any

from messaging.selectors import ur1_user_id
from tests.base import Personas
from tests.messaging.authz_rooms import _room


def _person(p: Personas) -> dict[str, Any]:
    _room(p)
    return {"user_id": ur1_user_id(p.representative)}


def none(p: Personas) -> dict[str, Any]:
    return {}


#                                         anon  member steward organizer rep  admin  outsider
EXPECTATIONS = {
    "messaging:safety_number": (none, (302, 200, 200, 200, 200, 200, 200)),
    "messaging:verify": (none, (302, 200, 200, 200, 200, 200, 200)),
    "messaging:verify_person": (_person, (302, 200, 200, 200, 302, 200, 404)),
    "messaging_api:people": (none, (401, 200, 200, 200, 200, 200, 200)),
    "messaging_api:person": (_person, (401, 200, 200, 200, 200, 200, 404)),
}
