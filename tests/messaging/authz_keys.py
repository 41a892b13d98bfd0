"""Authorization rows for the rooms' key pages (joined into tests/test_authorization_matrix.py).

Any active, logged-in account may set up, restore and list its own keys (messaging/permissions.py's
access_room_list, as the API's /devices and /backup); a visitor is sent to log in.
"""

from __future__ import annotations

from typing import Any

from tests.base import Personas


def none(p: Personas) -> dict[str, Any]:
    return {}


OWN_KEYS = (302, 200, 200, 200, 200, 200, 200)
#                                 anon  member steward organizer rep  admin  outsider
EXPECTATIONS = {
    "messaging:keys_setup": (none, OWN_KEYS),
    "messaging:keys_restore": (none, OWN_KEYS),
    "messaging:devices": (none, OWN_KEYS),
}
