"""Helpers for the rooms' tests: real UR1 clients (messaging.client.Account) talking to the services."""

from __future__ import annotations

from typing import Any

from membership.models import User
from messaging import ur1
from messaging.client import Account, new_id16
from messaging.models import Commit, Room
from messaging.selectors import latest_device_lists, ur1_user_id
from messaging.services import commit_post, device_list_publish, room_create


def enroll(user: User) -> Account:
    """A fresh client for the user, with its first device list published."""
    account = Account(user_id=ur1_user_id(user))
    device_list_publish(actor=user, body=account.device_list())
    return account


def server_lists(users: list[User]) -> dict[str, list[ur1.DeviceList]]:
    """What a client fetches before accepting a commit: each user's newest signed device list."""
    return {ur1_user_id(dl.user): [ur1.parse_device_list(dl.body)] for dl in latest_device_lists([u.pk for u in users])}


def land(room: Room, author: tuple[User, Account], members: list[tuple[User, Account, str]]) -> dict[str, Any]:
    """The author commits the room's next epoch with these members; every member accepts it and
    opens its wrap. Returns the commit JSON."""
    user, account = author
    # A client builds on the server's head: catch up first (after a 409 this is the rebuild).
    chain = list(Commit.objects.filter(room=room).order_by("epoch").values_list("body", flat=True))
    account.catch_up(room.room_id, chain, server_lists([m.user for m in room.members.select_related("user")]))
    body, wraps, _es = account.make_commit(room.room_id, [(a, role) for _u, a, role in members])
    commit_post(actor=user, room=room, body=body, wraps=wraps)
    lists = server_lists([u for u, _a, _r in members])
    chain = list(Commit.objects.filter(room=room).order_by("epoch").values_list("body", flat=True))
    for _u, member, _role in members:
        member.catch_up(room.room_id, chain, lists)
        member.take_wrap(room.room_id, next(w for w in wraps if w["to_device"] == member.device_id))
    return body


def local_room(admin: User, local: Any, **fields: Any) -> Room:
    return room_create(actor=admin, kind=Room.Kind.LOCAL, local=local, room_id=new_id16(),
                       retention_days=fields.get("retention_days", 90), verified_only=True)
