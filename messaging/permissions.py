"""Access rules of the encrypted rooms. Missing and forbidden both answer 404.

A room is open to a user who is both entitled by the union's structure now (messaging/selectors.py:
a member of the local or unit, a party to the grievance, a committee seat) and a member of its
current signed commit. Before the genesis commit, only those who may administer it see it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404

from membership.models import BargainingUnit, Local
from membership.permissions import local_perms
from membership.selectors import locals_where
from messaging.models import Device, Room, RoomMember
from messaging.selectors import (
    ADMIN_PERMISSION,
    posting_condition,
    room_admins_entitled,
    room_visible_to_user,
    rooms_entitled_for,
    shares_a_room,
    user_by_ur1_id,
)

# Tessera's protocol user ids are account codes in hex (selectors.ur1_user_id).
UR1_USER_ID = re.compile(r"[0-9a-f]{32}")


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def access_room(user: Any, code: Any) -> Room:
    """The room with this code if the user may read it; else Http404.

    Before its genesis commit a room is visible only to those entitled to administer it, so only
    they can start its chain.
    """
    if not _active(user):
        raise Http404
    room = rooms_entitled_for(user).filter(code=code).select_related("local", "grievance").first()
    if room is None:
        raise Http404
    if RoomMember.objects.filter(room=room, user=user).exists():
        return room
    if can_start_room(user, room):
        return room
    raise Http404


def can_start_room(user: Any, room: Room) -> bool:
    """Before its genesis commit, a room's own admins (selectors.room_admins_entitled) may open it
    to start its chain; nobody may once it has started."""
    return room.epoch < 0 and _active(user) and room_admins_entitled(room).filter(pk=user.pk).exists()


def rooms_user_may_start(user: Any, rooms: Iterable[Room]) -> set[int]:
    """The pks of those `rooms` that `can_start_room` allows, for a page of rooms: at most three
    queries whatever their number (can_start_room asks one per room).

    The same rule, spelled for many rooms: the user is entitled to the room by the roll now
    (selectors.rooms_entitled_for) and administers it: the assigned steward, holding
    `manage_grievances` in the local, for a case's room; else an organizer or admin of the local.
    tests/messaging/test_room_pages.py checks that both answer alike.
    """
    unstarted = {room.pk for room in rooms if room.epoch < 0}
    if not unstarted or not _active(user):
        return set()
    entitled = list(rooms_entitled_for(user).filter(pk__in=unstarted).values_list(
        "pk", "kind", "local_id", "grievance__steward_id"))
    if not entitled:
        return set()
    admin_of = set(locals_where(user, ADMIN_PERMISSION).values_list("pk", flat=True))
    steward_of: set[int] = set()
    if any(kind == Room.Kind.GRIEVANCE for _pk, kind, _local, _steward in entitled):
        steward_of = set(locals_where(user, "manage_grievances").values_list("pk", flat=True))
    return {pk for pk, kind, local_id, steward_id in entitled
            if (steward_id == user.pk and local_id in steward_of if kind == Room.Kind.GRIEVANCE
                else local_id in admin_of)}


def access_room_to_post(user: Any, code: Any) -> Room:
    """The room if the user may post a message in it: `access_room` for someone its current commit
    lists (a message needs a commit; before genesis there is nothing to post in). Else Http404.

    Every message runs this, so it asks in a few plain queries (`rooms_visible_to_users`, the
    sockets' own rule) rather than through `rooms_entitled_for`'s one large query.
    """
    return Room.objects.get(pk=room_pk_to_post(user, code))


def room_pk_to_post(user: Any, code: Any) -> int:
    """`access_room_to_post`'s rule without reading the room's row: its primary key, or Http404.
    The rooms' socket asks this on every send and keeps its own copy of the row (a stale copy is
    safe: the service takes the number only while the room's epoch and head are the envelope's)."""
    if not _active(user):
        raise Http404
    try:
        code = str(UUID(str(code)))
    except ValueError:
        raise Http404 from None
    pk = room_visible_to_user(user.pk, code)
    if pk is None:
        raise Http404
    return pk


def room_post_condition(user: Any, room: Room) -> tuple[str, list[Any]] | None:
    """`room_pk_to_post`'s rule as an SQL condition for the statement that stores a message
    (`services.message_post(condition=...)`), for a local's or a unit's room: the rooms' socket asks
    the roll in the same round trip. None when it cannot be asked that way (another kind of room,
    or an account that is not active): the caller then asks `room_pk_to_post`."""
    if not _active(user):
        return None
    return posting_condition(user.pk, room)


def access_room_admin(user: Any, code: Any) -> Room:
    """A room whose current commit lists the user as an admin: 404 if they cannot read it, 403 if
    they read it as a plain member."""
    room = access_room(user, code)
    if not RoomMember.objects.filter(room=room, user=user, role=RoomMember.Role.ADMIN).exists():
        raise PermissionDenied
    return room


def access_own_device(user: Any, device_id: str) -> Device:
    """One of the user's own devices, not revoked; anyone else's, or a revoked one, is 404.

    Wraps are delivered only to their device: a device's wraps are fetched by its owner alone.
    """
    if not _active(user):
        raise Http404
    device = Device.objects.filter(user=user, device_id=device_id, revoked_at__isnull=True).first()
    if device is None:
        raise Http404
    return device


def access_room_list(user: Any) -> Any:
    """Any logged-in, active account may ask for its rooms (the list may be empty)."""
    if not _active(user):
        raise Http404
    return user


def access_room_parent(user: Any, kind: str, code: Any) -> tuple[Local, BargainingUnit | None, Any]:
    """The local, unit or grievance a new room of `kind` hangs on, if the user may open that room.

    404 when the object is missing or invisible; 403 when the user sees it but may not open rooms
    (a plain member of the local).
    """
    if not _active(user):
        raise Http404
    if kind == Room.Kind.GRIEVANCE:
        from grievances.models import Grievance
        from grievances.permissions import can_work, viewer_level

        grievance = Grievance.objects.select_related("local").filter(code=code).first()
        if grievance is None or viewer_level(user, grievance) is None:
            raise Http404
        if grievance.steward_id != user.pk or not can_work(user, grievance):
            raise PermissionDenied
        return grievance.local, None, grievance
    if kind == Room.Kind.UNIT:
        unit = BargainingUnit.objects.select_related("local").filter(code=code).first()
        local = unit.local if unit else None
    else:
        unit, local = None, Local.objects.filter(code=code).first()
    perms = local_perms(user, local) if local is not None else frozenset()
    if local is None or "view_local" not in perms:
        raise Http404
    if ADMIN_PERMISSION not in perms:
        raise PermissionDenied
    return local, unit, None



def access_committee_seat(user: Any, code: Any, member_code: Any) -> tuple[Room, Any]:
    """A committee room the user administers and a member of its local: 404 for a room or member
    the user cannot see, 403 for a room member who does not administer it."""
    from membership.models import Member

    room = access_room(user, code)
    if not room_admins_entitled(room).filter(pk=user.pk).exists():
        raise PermissionDenied
    member = Member.objects.filter(code=member_code, local=room.local, erased_at__isnull=True).first()
    if member is None:
        raise Http404
    return room, member


def access_person(user: Any, user_id: str) -> Any:
    """Another account by its protocol id (§4.1), if it shares a room with the user: the people
    whose identity keys the user may look up and verify. The user themself counts. Anyone else,
    an unknown or malformed id, or a deactivated account: 404, all alike."""
    if not _active(user) or not UR1_USER_ID.fullmatch(user_id):
        raise Http404
    other = user_by_ur1_id(user_id)
    if other is None or not (other.pk == user.pk or shares_a_room(user, other)):
        raise Http404
    return other
