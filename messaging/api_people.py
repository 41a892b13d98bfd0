"""The rooms' API about people (mounted with messaging/api.py at /api/messaging/): whom the caller
shares a room with, and each one's newest signed device list, which carries the identity key
(MSK) the caller's browser pins and verifies (e2ee.md §4.3).

Only people who share a room with the caller can be looked up; anyone else is 404, like an id
that does not exist, so the endpoint cannot be used to test who has an account.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from messaging import permissions as perms
from messaging import selectors
from messaging.schemas import PeopleOut, PersonOut

router = Router()


@router.get("/people", response=PeopleOut, url_name="people")
def people(request: HttpRequest) -> dict[str, Any]:
    """Everyone who shares a room with the caller, with their pseudonym (no keys: see /people/{user})."""
    user = perms.access_room_list(request.user)
    return {"people": [{"user": p["id"], "name": p["name"]} for p in selectors.coworkers_of(user)]}


@router.get("/people/{user_id}", response=PersonOut, url_name="person")
def person(request: HttpRequest, user_id: str) -> dict[str, Any]:
    """One coworker's newest signed device list (null before they set up encrypted rooms).

    The server only relays it: the browser checks its signature, pins the MSK on first sight and
    warns when it changes. Verifying it in person is what makes it trustworthy.
    """
    other = perms.access_person(request.user, user_id)
    latest = selectors.latest_device_lists([other.pk])
    name = "" if other.pk == request.user.pk else selectors.coworker_name(request.user, other)
    return {"user": selectors.ur1_user_id(other), "name": name, "device_list": latest[0].body if latest else None}
