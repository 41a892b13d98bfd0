"""Reads of the rooms that depend on who is looking, and who the union's structure puts in a room."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from membership.models import Member, User
from membership.roles import MEMBER_STATUSES
from membership.selectors import local_perm_pairs, locals_where, users_with_local_perm
from messaging.models import Commit, CommitteeSeat, Device, DeviceList, Message, Room, RoomMember

# Officers who may open and administer a local, unit or committee room: they organize the local.
ADMIN_PERMISSION = "manage_members"


def ur1_user_id(user: Any) -> str:
    """The opaque protocol id of a user (§4.1): their account's random code, never the handle."""
    return user.code.hex


def user_by_ur1_id(user_id: str) -> User | None:
    try:
        return User.objects.filter(code=user_id, is_active=True).first() if len(user_id) == 32 else None
    except ValueError:  # not hex
        return None


def _standing_members() -> QuerySet[Member]:
    """Memberships that carry member rights now (membership/roles.py: active or lapsed)."""
    return Member.objects.filter(erased_at__isnull=True, status__in=MEMBER_STATUSES, user__is_active=True)


def room_entitled_users(room: Room) -> QuerySet[User]:
    """Who SHOULD be in the room according to the roll, now.

    Local: members of the local in good standing. Unit: those of them in the unit. Grievance: the
    grievants (a party to the case keeps it whatever their status) and the assigned steward while
    they hold `manage_grievances` in the local. Committee: its seats, while their holders are
    members in good standing of the local. A client admin turns the difference between this and
    the current commit into a signed commit; the server never adds anyone by itself.
    """
    if room.kind == Room.Kind.LOCAL:
        ids = _standing_members().filter(local_id=room.local_id).values("user_id")
    elif room.kind == Room.Kind.UNIT:
        ids = _standing_members().filter(local_id=room.local_id, unit_id=room.unit_id).values("user_id")
    elif room.kind == Room.Kind.GRIEVANCE:
        grievance = room.grievance
        assert grievance is not None
        grievants = Member.objects.filter(grievances=grievance, erased_at__isnull=True).values("user_id")
        stewards = users_with_local_perm(room.local, "manage_grievances")
        steward = stewards.filter(pk=grievance.steward_id) if grievance.steward_id else stewards.none()
        return User.objects.filter(Q(pk__in=grievants) | Q(pk__in=steward.values("pk")), is_active=True)
    else:
        seated = CommitteeSeat.objects.filter(room=room).values("user_id")
        ids = _standing_members().filter(local_id=room.local_id, user_id__in=seated).values("user_id")
    return User.objects.filter(pk__in=ids, is_active=True)


def room_admins_entitled(room: Room) -> QuerySet[User]:
    """Who may open the room and be its admin: the assigned steward for a grievance, else the
    local's organizers and admins (who hold `manage_members`) among those entitled."""
    if room.kind == Room.Kind.GRIEVANCE:
        assert room.grievance is not None
        stewards = users_with_local_perm(room.local, "manage_grievances")
        steward_id = room.grievance.steward_id
        return stewards.filter(pk=steward_id) if steward_id else stewards.none()
    return users_with_local_perm(room.local, ADMIN_PERMISSION).filter(
        pk__in=room_entitled_users(room).values("pk"))


def rooms_entitled_for(user: Any) -> QuerySet[Room]:
    """Rooms the union's structure puts the user in now, in one query (the same rules as above)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Room.objects.none()
    standing = _standing_members().filter(user=user)
    in_local = Q(kind=Room.Kind.LOCAL, local_id__in=standing.values("local_id"))
    in_unit = Q(kind=Room.Kind.UNIT, unit_id__in=standing.exclude(unit=None).values("unit_id"))
    grievant = Q(kind=Room.Kind.GRIEVANCE, grievance__grievants__user=user, grievance__grievants__erased_at=None)
    steward = Q(kind=Room.Kind.GRIEVANCE, grievance__steward=user,
                local_id__in=locals_where(user, "manage_grievances").values("pk"))
    seated = Q(kind=Room.Kind.COMMITTEE, local_id__in=standing.values("local_id"),
               pk__in=CommitteeSeat.objects.filter(user=user).values("room_id"))
    return Room.objects.filter(in_local | in_unit | grievant | steward | seated).distinct()


def rooms_visible_to(user: Any) -> QuerySet[Room]:
    """Rooms the user may read and write: entitled by the roll AND in the current signed commit."""
    membership = RoomMember.objects.filter(room=OuterRef("pk"), user=user)
    return rooms_entitled_for(user).filter(Exists(membership))


def rooms_visible_to_users(user_ids: set[int], *, codes: set[str] | None = None) -> dict[int, frozenset[tuple[str, int]]]:
    """`rooms_visible_to` for many users at once, for the sockets' periodic re-check: each user's
    rooms as (code, pk) pairs, in at most seven queries whatever the number of users or rooms.
    With `codes`, only among those rooms (a send asks about one room: two queries for a local's).

    The rules are `rooms_entitled_for`'s, applied here to the candidates, the rooms whose current
    commit lists the user (a room the user is in by no commit is not visible anyway).
    tests/messaging/test_room_access_batch.py checks that both answer the same for every kind.
    """
    if not user_ids:
        return {}
    members = RoomMember.objects.filter(user_id__in=user_ids, user__is_active=True)
    if codes is not None:
        members = members.filter(room__code__in=codes)
    candidates = list(members.values_list(
        "user_id", "room_id", "room__code", "room__kind", "room__local_id", "room__unit_id", "room__grievance_id",
        "room__grievance__steward_id"))
    standing = list(_standing_members().filter(user_id__in={row[0] for row in candidates}).values_list(
        "user_id", "local_id", "unit_id")) if candidates else []
    in_local = {(user_id, local_id) for user_id, local_id, _unit in standing}
    in_unit = {(user_id, unit_id) for user_id, _local, unit_id in standing if unit_id is not None}
    grievances = {row[6] for row in candidates if row[3] == Room.Kind.GRIEVANCE}
    grievant = set(Member.objects.filter(user_id__in=user_ids, erased_at__isnull=True, grievances__in=grievances)
                   .values_list("user_id", "grievances")) if grievances else set()
    stewards = {row[0] for row in candidates if row[3] == Room.Kind.GRIEVANCE and row[7] == row[0]}
    steward_in = local_perm_pairs(stewards, "manage_grievances")
    committees = {row[1] for row in candidates if row[3] == Room.Kind.COMMITTEE}
    seated = set(CommitteeSeat.objects.filter(user_id__in=user_ids, room_id__in=committees)
                 .values_list("user_id", "room_id")) if committees else set()
    rooms: dict[int, set[tuple[str, int]]] = {user_id: set() for user_id in user_ids}
    for user_id, room_id, code, kind, local_id, unit_id, grievance_id, steward_id in candidates:
        if kind == Room.Kind.LOCAL:
            entitled = (user_id, local_id) in in_local
        elif kind == Room.Kind.UNIT:
            entitled = (user_id, unit_id) in in_unit
        elif kind == Room.Kind.GRIEVANCE:
            entitled = (user_id, grievance_id) in grievant or (
                steward_id == user_id and (user_id, local_id) in steward_in)
        else:
            entitled = (user_id, local_id) in in_local and (user_id, room_id) in seated
        if entitled:
            rooms[user_id].add((str(code), room_id))
    return {user_id: frozenset(found) for user_id, found in rooms.items()}


def room_visible_to_user(user_id: int, code: str) -> int | None:
    """`rooms_visible_to_users` for one user and one room: its primary key, or None.

    A send asks this for every message, so a local's or a unit's room (the busy ones) is answered
    in one query, the roll's condition as a subquery; a case's or a committee's room asks the
    general rule. tests/messaging/test_room_access_batch.py checks that posting is allowed exactly
    where reading is, for every kind.
    """
    # An inactive account is refused before (permissions._active) and by _standing_members.
    row = (RoomMember.objects.filter(user_id=user_id, room__code=code)
           .annotate(in_local=Exists(_standing_members().filter(user_id=OuterRef("user_id"),
                                                                local_id=OuterRef("room__local_id"))),
                     in_unit=Exists(_standing_members().filter(user_id=OuterRef("user_id"),
                                                               unit_id=OuterRef("room__unit_id"))))
           .values_list("room_id", "room__kind", "in_local", "in_unit").first())
    if row is None:
        return None
    room_id, kind, in_local, in_unit = row
    if kind == Room.Kind.LOCAL:
        return room_id if in_local else None
    if kind == Room.Kind.UNIT:
        return room_id if in_unit else None
    found = rooms_visible_to_users({user_id}, codes={code}).get(user_id)
    return next(iter(found))[1] if found else None


# Stand-ins for the values of `posting_condition`'s compiled SQL: no real id is negative.
_USER, _PLACE, _ROOM = -910_000_001, -910_000_002, -910_000_003
_POSTING_SQL: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}


def posting_condition(user_id: int, room: Room) -> tuple[str, list[Any]] | None:
    """`room_visible_to_user`'s rule for a local's or a unit's room as one SQL condition and its
    parameters, for a send to ask inside the statement that stores the message (one round trip):
    the room's current commit lists the user, and the user is a member in good standing of the
    local (of the unit), with an active account. None for a case's or a committee's room.

    Compiled once per process and kind from the same querysets as the rule itself (building and
    compiling them cost a send more than its round trips did); each call only puts in the values.
    tests/messaging/test_room_access_batch.py checks it answers as the rule for posting does.
    """
    place_id: int | None
    if room.kind == Room.Kind.LOCAL:
        place, place_id = "local_id", room.local_id
    elif room.kind == Room.Kind.UNIT:
        place, place_id = "unit_id", room.unit_id
    else:
        return None
    key = (connection.vendor, place)
    compiled = _POSTING_SQL.get(key)
    if compiled is None:
        listed_sql, listed = RoomMember.objects.filter(user_id=_USER, room_id=_ROOM).values("pk").query.sql_with_params()
        standing_sql, standing = (_standing_members().filter(user_id=_USER, **{place: _PLACE}).values("pk")
                                  .query.sql_with_params())
        compiled = _POSTING_SQL[key] = (f"EXISTS ({listed_sql}) AND EXISTS ({standing_sql})", (*listed, *standing))
    sql, template = compiled
    values = {_USER: user_id, _PLACE: place_id, _ROOM: room.pk}
    return sql, [values.get(value, value) if type(value) is int else value for value in template]


def room_ids_visible_to(user: Any) -> frozenset[int]:
    """For sockets: the set changes exactly when the user gains or loses a room (two queries)."""
    return frozenset(rooms_visible_to(user).values_list("pk", flat=True))


def room_list_for(user: Any) -> list[dict[str, Any]]:
    """The user's rooms with unread counts, and those the roll puts them in but no commit has yet."""
    entitled = list(rooms_entitled_for(user).select_related("local", "unit__employer", "unit__client", "grievance")
                    .order_by("created_at", "pk"))
    marks = dict(RoomMember.objects.filter(user=user, room__in=entitled).values_list("room_id", "read_seq"))
    return [{"room": room, "joined": room.pk in marks,
             "unread": max(room.last_seq - marks[room.pk], 0) if room.pk in marks else 0} for room in entitled]


def pending_changes(room: Room) -> dict[str, list[str]]:
    """What an admin's client must rotate: who the roll adds or removes that no commit has yet
    ("add", "remove"), and who stays but whose devices changed since the head commit ("devices":
    a device added, as on a new phone restored from the recovery key, which cannot send before
    a commit lists it; or a device revoked, as a lost phone, which must not get the next epoch's
    secret). §4.8: admin clients rotate when they see a revocation."""
    should = {ur1_user_id(u) for u in room_entitled_users(room).only("code")}
    members = {ur1_user_id(m.user): m.user_id for m in room.members.select_related("user").only("user__code")}
    staying = {code: pk for code, pk in members.items() if code in should}
    devices: list[str] = []
    head = Commit.objects.filter(room=room, epoch=room.epoch).values_list("body", flat=True).first() if staying else None
    if head is not None:
        listed: dict[str, set[str]] = {}
        for entry in head.get("devices", []):
            if isinstance(entry, dict):
                listed.setdefault(str(entry.get("user", "")), set()).add(str(entry.get("device", "")))
        live: dict[int, set[str]] = {}
        for user_id, device_id in Device.objects.filter(user_id__in=staying.values(), revoked_at__isnull=True
                                                        ).values_list("user_id", "device_id"):
            live.setdefault(user_id, set()).add(device_id)
        devices = sorted(code for code, pk in staying.items() if live.get(pk, set()) != listed.get(code, set()))
    return {"add": sorted(should - set(members)), "remove": sorted(set(members) - should), "devices": devices}


# §4.8, scheduled rotation: an epoch older than this, or with this many messages, is due for new keys.
ROTATE_AFTER = timedelta(days=7)
ROTATE_AFTER_MESSAGES = 10_000


def rotation_due(room: Room, *, now: Any = None) -> bool:
    """Whether the room's current epoch is due for its scheduled change of keys (§4.8): its commit is
    older than 7 days, or 10,000 messages were sent in it. Bounds what a leaked epoch secret opens."""
    if room.epoch < 0:
        return False
    head = Commit.objects.filter(room=room, epoch=room.epoch).values_list("created_at", flat=True).first()
    if head is None:
        return False
    if (now or timezone.now()) - head >= ROTATE_AFTER:
        return True
    # Counted up to the threshold only (LIMIT): a busy epoch costs a bounded index scan, not a full count.
    return Message.objects.filter(room=room, epoch=room.epoch)[:ROTATE_AFTER_MESSAGES].count() >= ROTATE_AFTER_MESSAGES


def latest_device_lists(user_ids: list[int]) -> list[DeviceList]:
    """The newest signed device list of each of these users (who have published one)."""
    newest = DeviceList.objects.filter(user=OuterRef("user"), version__gt=OuterRef("version"))
    return list(DeviceList.objects.filter(user_id__in=user_ids).exclude(Exists(newest)).select_related("user"))


def rooms_to_open_for(user: Any) -> list[dict[str, Any]]:
    """What the user may open and nobody has yet: the room of each local they organize, of each of
    its bargaining units, a new committee (any number), and the room of each open case they are
    the assigned steward of (grievants and steward; messaging/permissions.py's rule for opening
    it). A fixed number of queries."""
    from grievances.selectors import my_cases
    from membership.models import BargainingUnit

    admin_locals = list(locals_where(user, ADMIN_PERMISSION).order_by("name"))
    opened = set(Room.objects.filter(kind=Room.Kind.LOCAL, local__in=admin_locals).values_list("local_id", flat=True))
    units = (BargainingUnit.objects.filter(local__in=admin_locals).exclude(rooms__kind=Room.Kind.UNIT)
             .select_related("employer", "client").order_by("local_id", "pk"))
    found: list[dict[str, Any]] = []
    for local in admin_locals:
        if local.pk not in opened:
            found.append({"kind": Room.Kind.LOCAL, "parent": local.code, "local": local})
        found += [{"kind": Room.Kind.UNIT, "parent": u.code, "unit": u} for u in units if u.local_id == local.pk]
        found.append({"kind": Room.Kind.COMMITTEE, "parent": local.code, "local": local})
    # my_cases: open cases assigned to the user where they still work grievances (grievances/selectors.py).
    cases = my_cases(user).exclude(rooms__kind=Room.Kind.GRIEVANCE).order_by("number")
    found += [{"kind": Room.Kind.GRIEVANCE, "parent": case.code, "grievance": case} for case in cases]
    return found


def room_device_list_history(room: Room, user_ids: set[int]) -> list[DeviceList]:
    """Every device list of these users and of everyone named in one of the room's commits, oldest
    first (a client verifying the chain from genesis checks old commits against old lists)."""
    named: set[str] = set()
    for body in Commit.objects.filter(room=room).values_list("body", flat=True):
        named.update(m.get("user", "") for m in body.get("members", []) if isinstance(m, dict))
    codes = [name for name in named if re.fullmatch(r"[0-9a-f]{32}", name)]
    past = User.objects.filter(code__in=codes).values_list("pk", flat=True) if codes else []
    return list(DeviceList.objects.filter(user_id__in=set(user_ids) | set(past)).order_by("user_id", "version"))


def room_names_for(user: Any, room: Room) -> dict[int, str]:
    """Whom the chat page may name for `user`, and by what: pseudonyms in the room's local.

    The people of the room's current commit, and those of past commits that also listed the user
    (whose messages the user may have read; someone removed before the user came is not named:
    their messages cannot be opened anyway). The name is the pseudonym on the roll of the room's
    local, where coworkers know each other by it; never a handle, never another local's pseudonym.
    """
    me = ur1_user_id(user)
    named: set[str] = set()
    for body in Commit.objects.filter(room=room).values_list("body", flat=True):
        listed = {m.get("user", "") for m in body.get("members", []) if isinstance(m, dict)}
        if me in listed:
            named |= listed
    codes = [name for name in named if re.fullmatch(r"[0-9a-f]{32}", name)]
    users = Q(user__code__in=codes) | Q(user_id__in=RoomMember.objects.filter(room=room).values("user_id"))
    return dict(Member.objects.filter(users, local_id=room.local_id, erased_at__isnull=True)
                .values_list("user_id", "pseudonym"))


def room_admin_names(rooms: list[Room]) -> dict[int, list[str]]:
    """Each room's admins (current commit) by their pseudonym in the room's local, sorted; "" for
    someone no longer on that roll. Shown to whoever the rooms list shows the room to, those the
    roll puts in it included: the page says who can add them (two queries for any number)."""
    admins = list(RoomMember.objects.filter(room__in=rooms, role=RoomMember.Role.ADMIN)
                  .values_list("room_id", "user_id", "room__local_id"))
    pseudonyms = {(user_id, local_id): name for user_id, local_id, name in Member.objects.filter(
        user_id__in={a[1] for a in admins}, local_id__in={a[2] for a in admins}, erased_at__isnull=True,
    ).values_list("user_id", "local_id", "pseudonym")} if admins else {}
    names: dict[int, list[str]] = {}
    for room_id, user_id, local_id in admins:
        names.setdefault(room_id, []).append(pseudonyms.get((user_id, local_id), ""))
    return {room_id: sorted(found) for room_id, found in names.items()}


def messages_after(room: Room, after: int, limit: int) -> QuerySet[Message]:
    return room.messages.filter(seq__gt=after).order_by("seq")[:limit]


def coworkers_of(user: Any) -> list[dict[str, Any]]:
    """Everyone who shares a room with the user now, by name: the people the user may verify (§4.3).

    Sharing a room means being in the current signed commit of a room the user may read. The name
    is the person's pseudonym in the local of one of those rooms (coworkers know each other by
    pseudonym; the handle stays private). Three queries, whatever the number of rooms and people.
    """
    rows = (RoomMember.objects.filter(room__in=rooms_visible_to(user)).exclude(user=user)
            .order_by("user_id", "room__created_at", "room_id").values_list("user_id", "room__local_id"))
    local_of: dict[int, int] = {}
    for user_id, local_id in rows:
        local_of.setdefault(user_id, local_id)
    names = {(m.user_id, m.local_id): m.pseudonym for m in Member.objects.filter(
        user_id__in=local_of, local_id__in=set(local_of.values()), erased_at__isnull=True
    ).only("user_id", "local_id", "pseudonym")}
    people = [{"user": u, "id": ur1_user_id(u), "name": names.get((u.pk, local_of[u.pk]), "")}
              for u in User.objects.filter(pk__in=local_of, is_active=True).only("pk", "code")]
    return sorted(people, key=lambda p: (p["name"].casefold(), p["id"]))


def shares_a_room(user: Any, other: User) -> bool:
    """Whether `other` is in the current commit of a room the user may read (the user included)."""
    return RoomMember.objects.filter(room__in=rooms_visible_to(user), user=other).exists()


def coworker_name(user: Any, other: User) -> str:
    """The other person's pseudonym, if they are on the roll of the local of a room they share with the user."""
    shared = RoomMember.objects.filter(room__in=rooms_visible_to(user), user=other).values("room__local_id")
    found = Member.objects.filter(user=other, local_id__in=shared, erased_at__isnull=True).only("pseudonym").first()
    return found.pseudonym if found else ""
