"""A change in the roll reaches the open pages of the rooms it concerns at once (`pending`).

The rooms follow the union: suspending a member, granting or taking a role, or giving a case a
steward changes who should be in a room. The server never changes a room by itself; it tells the
room's open pages, so that an admin's page offers the rotation now rather than at its next poll.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction

from grievances.services import grievance_assign
from membership.models import Member
from membership.services import member_set_status, role_grant
from messaging.models import Room
from tests.base import build_personas
from tests.factories import make_member
from tests.messaging.test_room_access_batch import cookie_of, every_kind
from tests.messaging.test_room_fanout import open_socket


def pending_codes(frames: list[dict[str, Any]]) -> set[str]:
    return {frame["room"] for frame in frames if frame["type"] == "pending"}


async def frames_after(cookie: str, change: Any) -> list[dict[str, Any]]:
    """The frames a room socket receives within a second of `change()` (run in the database thread)."""
    socket = await open_socket(cookie, "/ws/rooms/?batch=1")
    await database_sync_to_async(change)()
    frames = []
    while not await socket.receive_nothing(timeout=1.0):
        frames.append(json.loads(await socket.receive_from()))
    await socket.disconnect()
    return frames


@pytest.mark.django_db(transaction=True)
def test_a_suspension_tells_the_local_s_rooms_and_not_another_local_s() -> None:
    p = build_personas()
    rooms = every_kind(p)
    cookie = cookie_of(p.organizer)
    outsider_member = Member.objects.get(user=p.outsider)

    def elsewhere() -> None:  # the other local's roll
        member_set_status(actor=p.outsider, member=outsider_member, new=Member.Status.SUSPENDED, reason="Test suspension.")

    def here() -> None:
        member_set_status(actor=p.local_admin, member=Member.objects.get(user=p.representative),
                          new=Member.Status.SUSPENDED, reason="Test suspension.")

    assert pending_codes(async_to_sync(frames_after)(cookie, elsewhere)) == set()
    told = pending_codes(async_to_sync(frames_after)(cookie, here))
    # Every room of the local the organizer's socket follows.
    assert told and told <= {str(room.code) for room in rooms}
    assert str(Room.objects.get(kind=Room.Kind.LOCAL).code) in told


@pytest.mark.django_db(transaction=True)
def test_a_new_role_tells_the_rooms_once_it_commits_and_not_if_it_rolls_back() -> None:
    p = build_personas()
    every_kind(p)
    cookie = cookie_of(p.organizer)
    newcomer = make_member(p.local)
    local_room = str(Room.objects.get(kind=Room.Kind.LOCAL).code)

    def rolled_back() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            role_grant(actor=p.local_admin, user=newcomer, local=p.local, role="steward")
            raise RuntimeError

    def granted() -> None:
        role_grant(actor=p.local_admin, user=newcomer, local=p.local, role="steward")

    assert pending_codes(async_to_sync(frames_after)(cookie, rolled_back)) == set()
    assert local_room in pending_codes(async_to_sync(frames_after)(cookie, granted))


@pytest.mark.django_db(transaction=True)
def test_a_new_steward_on_a_case_tells_that_case_s_room_only() -> None:
    p = build_personas()
    rooms = every_kind(p)
    case_room = next(room for room in rooms if room.kind == Room.Kind.GRIEVANCE)
    cookie = cookie_of(p.member)  # the grievant, in the case's room and the local's
    other_steward = make_member(p.local, "steward")
    from tests.factories import make_totp

    make_totp(other_steward)

    def reassign() -> None:
        assert case_room.grievance is not None
        grievance_assign(actor=p.organizer, grievance=case_room.grievance, steward=other_steward)

    assert pending_codes(async_to_sync(frames_after)(cookie, reassign)) == {str(case_room.code)}
