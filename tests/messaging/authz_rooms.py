"""Authorization rows for the rooms' API (joined into tests/test_authorization_matrix.py).

The room is the local's room with every persona of the local in its signed commit; the outsider
(another local) gets 404 like a room that does not exist. Anonymous callers get 401 (a JSON API
does not redirect to a login page). `room_read` is POST only and `room_meta` PUT only (405 to a GET, before any
check, so to everyone); `wraps` needs its
`device` parameter (400 without it).
"""

from __future__ import annotations

from typing import Any

from tests.base import Personas


def _room(p: Personas) -> dict[str, Any]:
    from tests.messaging.rooms import enroll, land, local_room

    org = p.organizer
    people = [(u, enroll(u)) for u in (p.organizer, p.member, p.steward, p.representative, p.local_admin)]
    room = local_room(org, p.local)
    land(room, people[0], [(u, a, "admin" if u == org else "member") for u, a in people])
    return {"code": room.code}


def none(p: Personas) -> dict[str, Any]:
    return {}


ALL_LOGGED_IN = (401, 200, 200, 200, 200, 200, 200)
ROOM_MEMBERS = (401, 200, 200, 200, 200, 200, 404)
#                                            anon  member steward organizer rep  admin  outsider
EXPECTATIONS = {
    "messaging_api:openapi-json": (none, (200, 200, 200, 200, 200, 200, 200)),
    "messaging_api:api-root": (none, (404, 404, 404, 404, 404, 404, 404)),
    "messaging_api:devices": (none, ALL_LOGGED_IN),
    "messaging_api:devices_publish": (none, ALL_LOGGED_IN),
    "messaging_api:rooms": (none, ALL_LOGGED_IN),
    "messaging_api:rooms_create": (none, ALL_LOGGED_IN),
    "messaging_api:room": (_room, ROOM_MEMBERS),
    "messaging_api:room_device_lists": (_room, ROOM_MEMBERS),
    "messaging_api:room_commits": (_room, ROOM_MEMBERS),
    "messaging_api:room_commits_post": (_room, ROOM_MEMBERS),
    "messaging_api:room_messages": (_room, ROOM_MEMBERS),
    "messaging_api:room_messages_post": (_room, ROOM_MEMBERS),
    "messaging_api:room_seats": (_room, (405, 405, 405, 405, 405, 405, 405)),
    "messaging_api:room_read": (_room, (405, 405, 405, 405, 405, 405, 405)),
    "messaging_api:room_meta": (_room, (405, 405, 405, 405, 405, 405, 405)),
    "messaging_api:wraps": (none, (401, 400, 400, 400, 400, 400, 400)),
    "messaging_api:backup_params": (none, ALL_LOGGED_IN),
    "messaging_api:backup_params_put": (none, ALL_LOGGED_IN),
    "messaging_api:backup_items": (none, ALL_LOGGED_IN),
    "messaging_api:backup_items_put": (none, ALL_LOGGED_IN),
    # The pages: a login redirect for the anonymous, like every page; the outsider's room is 404.
    "messaging:list": (none, (302, 200, 200, 200, 200, 200, 200)),
    "messaging:chat": (_room, (302, 200, 200, 200, 200, 200, 404)),
}
