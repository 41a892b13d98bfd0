"""Writes of the encrypted rooms. Callers check access first (messaging/permissions.py).

Every service is keyword-only and atomic, writes its audit record with ids and counts only (never a
key, a ciphertext or a room's name, which the server does not have anyway) and sends its events
with `broadcast_on_commit`, so nothing reaches a socket before the row it announces is committed.
The server checks what it can without keys, as defence in depth: the same strict parsers and
acceptance rules as the clients (messaging/ur1), signatures under the keys it was given, and the
union's structure for who may be listed. Clients check everything again.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from membership.models import User
from membership.services import user_end_other_sessions
from messaging import ur1
from messaging.models import (
    MAX_ENVELOPE_BYTES,
    BackupItem,
    BackupParams,
    Commit,
    CommitteeSeat,
    Device,
    DeviceList,
    Message,
    Room,
    RoomMember,
    Wrap,
)
from messaging.selectors import latest_device_lists, room_entitled_users, ur1_user_id, user_by_ur1_id
from messaging.ur1.message import parse_envelope
from union.audit import audit_record
from union.realtime import broadcast_many_on_commit, broadcast_on_commit, recheck_sockets_on_commit

ERROR_DEVICE_LIST = _("The device list is not valid or not signed by its key.")
ERROR_DEVICE_LIST_USER = _("A device list must be your own.")
ERROR_DEVICE_LIST_VERSION = _("The device list must have a higher version than the last one.")
ERROR_DEVICE_REUSED = _("A device id cannot be used again.")
ERROR_COMMIT = _("The commit is not valid.")
ERROR_COMMIT_ROOM = _("The commit is for another room.")
ERROR_COMMIT_AUTHOR = _("A commit must be made by one of your own devices.")
ERROR_COMMIT_NOT_ENTITLED = _("A commit may list only people the union puts in this room.")
ERROR_STALE = _("The room has moved on: fetch the latest commit and try again.")
ERROR_WRAPS = _("Every device of the commit needs exactly one wrap for this epoch.")
ERROR_ENVELOPE = _("The message is not a valid envelope.")
ERROR_ENVELOPE_SIZE = _("The message is larger than 90 KiB.")
ERROR_SENDER = _("A message must come from one of your devices in the room's current epoch.")
ERROR_REPLAY = _("This message was already received.")
ERROR_BACKUP_PARAMS = _("The backup parameters are not allowed.")
ERROR_BACKUP_ITEM = _("The backup item is not valid.")
ERROR_BACKUP_VERSION = _("A backup item can only be replaced by a higher version.")
ERROR_META = _("The room's name must be sealed by one of your admin devices in the room's current epoch.")
ERROR_ROOM_EXISTS = _("This room exists already.")
ERROR_SEAT = _("Only a committee room has seats, and only members with an account can take one.")


class StaleCommit(Exception):
    """The commit or message was built on a head that is no longer current: answer 409."""

    message = ERROR_STALE


class NotStored(Exception):
    """`message_post` was given the caller's access rule as an SQL condition and stored nothing: the
    rule refused, or the room or device changed, or the database cannot ask it in one statement.
    The caller asks its rule step by step and posts again without the condition."""


def room_group(room: Room) -> str:
    return f"room.{room.pk}"


def _bad(message: Any) -> ValidationError:
    return ValidationError(str(message))


# --- devices -----------------------------------------------------------------------------------

@transaction.atomic
def device_list_publish(*, actor: User, body: dict[str, Any]) -> DeviceList:
    """Store a new signed device list of the actor: adds its new devices, revokes the ones it drops.

    The list must verify under its own MSK, name the actor and raise the version. A device id is
    never reused: one that belongs to anyone else, or was revoked, is refused.
    """
    try:
        parsed = ur1.parse_device_list(body)
    except ur1.UR1Error:
        raise _bad(ERROR_DEVICE_LIST) from None
    if parsed.user != ur1_user_id(actor):
        raise _bad(ERROR_DEVICE_LIST_USER)
    User.objects.select_for_update().filter(pk=actor.pk).first()  # one publisher at a time per user
    last = DeviceList.objects.filter(user=actor).order_by("-version").first()
    if last is not None and parsed.version <= last.version:
        raise _bad(ERROR_DEVICE_LIST_VERSION)
    listed = {d.id: d for d in parsed.devices}
    known = {d.device_id: d for d in Device.objects.filter(device_id__in=listed)}
    for device_id, entry in listed.items():
        row = known.get(device_id)
        if row is not None and (row.user_id != actor.pk or row.revoked_at is not None
                                or row.dsk != ur1.b64u_encode(entry.dsk) or row.dek != ur1.b64u_encode(entry.dek)):
            raise _bad(ERROR_DEVICE_REUSED)
    Device.objects.bulk_create([
        Device(user=actor, device_id=d.id, dsk=ur1.b64u_encode(d.dsk), dek=ur1.b64u_encode(d.dek), added=d.added)
        for d in parsed.devices if d.id not in known])
    revoked = Device.objects.filter(user=actor, revoked_at=None).exclude(device_id__in=listed).update(
        revoked_at=timezone.now())
    saved = DeviceList.objects.create(user=actor, version=parsed.version, msk=ur1.b64u_encode(parsed.msk), body=body)
    audit_record(actor, "messaging.device_list", saved, version=parsed.version, devices=len(listed), revoked=revoked)
    # Every room whose commit lists the actor now waits for a commit with their current devices
    # (`selectors.pending_changes`): its open pages are told, and an admin's offers the rotation.
    _tell_pending(Room.objects.filter(members__user=actor))
    if revoked:
        # A revoked device's session ends with it (a lost phone, still logged in, fetches nothing
        # more): every session of the account but the caller's, which the API view keeps.
        user_end_other_sessions(actor=actor, user=actor, reason="device revoked")
    return saved


# --- rooms and commits -------------------------------------------------------------------------

@transaction.atomic
def room_create(*, actor: User, kind: str, local: Any, unit: Any = None, grievance: Any = None, room_id: str,
                retention_days: int, verified_only: bool) -> Room:
    """Open a room on a local, unit, grievance or as a committee; its genesis commit comes next."""
    try:
        ur1.b64u_decode(room_id, 16)
    except ur1.UR1Error:
        raise _bad(ERROR_COMMIT_ROOM) from None
    try:
        with transaction.atomic():
            room = Room.objects.create(kind=kind, local=local, unit=unit, grievance=grievance, room_id=room_id,
                                       retention_days=retention_days, verified_only=verified_only,
                                       created_by=actor)
    except IntegrityError:
        raise _bad(ERROR_ROOM_EXISTS) from None
    if kind == Room.Kind.COMMITTEE:
        # The officer who makes a committee sits on it, so someone may start its chain.
        CommitteeSeat.objects.create(room=room, user=actor)
    audit_record(actor, "messaging.room_create", room, local_id=local.pk, kind=kind)
    return room


@transaction.atomic
def committee_seat_set(*, actor: User, room: Room, member: Any, seated: bool) -> bool:
    """Seat a member of the room's local on a committee, or unseat them. The caller checked that
    the actor administers the room and that `member` belongs to its local.

    This changes who SHOULD be in the room; an admin's client then commits the change (the server
    never changes a room's membership by itself). Returns whether anything changed.
    """
    if room.kind != Room.Kind.COMMITTEE or member.user_id is None:
        raise _bad(ERROR_SEAT)
    if seated:
        changed = CommitteeSeat.objects.get_or_create(room=room, user_id=member.user_id)[1]
    else:
        changed = CommitteeSeat.objects.filter(room=room, user_id=member.user_id).delete()[0] > 0
    if changed:
        audit_record(actor, "messaging.committee_seat", room, local_id=room.local_id, member_id=member.pk,
                     seated=seated)
        broadcast_on_commit(room_group(room), {"type": "room.pending", "room": str(room.code)})
    return changed


def _check_wraps(room: Room, commit: ur1.Commit, cid: str, wraps: list[Any]) -> dict[str, dict[str, Any]]:
    """One wrap per device of the commit, each naming this room, epoch and commit: device id -> wrap."""
    expected = {(d.user, d.device) for d in commit.devices}
    found: dict[str, dict[str, Any]] = {}
    for wrap in wraps:
        try:
            ur1.encoding.check_keys(wrap, ("v", "t", "room", "epoch", "commit", "to_user", "to_device", "w"))
            ur1.b64u_decode(ur1.encoding.check_str(wrap["w"]), 80)
        except ur1.UR1Error:
            raise _bad(ERROR_WRAPS) from None
        key = (wrap["to_user"], wrap["to_device"])
        if (wrap["v"] != 1 or wrap["t"] != "wrap" or wrap["room"] != room.room_id or wrap["epoch"] != commit.epoch
                or wrap["commit"] != cid or key not in expected or wrap["to_device"] in found):
            raise _bad(ERROR_WRAPS)
        found[wrap["to_device"]] = wrap
    if len(found) != len(expected):
        raise _bad(ERROR_WRAPS)
    return found


# Parsed head commits by (room, epoch, commit id). A commit never changes once stored, and the key
# names its hash, so an entry can only be dropped, never wrong. Each message needs its room's head
# (is the sender a device of the epoch?); parsing a 250-member commit per message cost more than
# the rest of the send.
_HEADS: dict[tuple[int, int, str], ur1.AcceptedCommit] = {}
HEADS_KEPT = 512


def _accepted_head(room: Room) -> ur1.AcceptedCommit | None:
    if room.epoch < 0:
        return None
    key = (room.pk, room.epoch, room.head_commit)
    accepted = _HEADS.get(key)
    if accepted is None:
        head = Commit.objects.get(room=room, epoch=room.epoch)
        parsed = ur1.parse_commit(head.body)
        accepted = ur1.AcceptedCommit(commit=parsed, commit_id=ur1.commit_id(parsed))
        if ur1.b64u_encode(accepted.commit_id) != room.head_commit:  # not the head the room names: no caching
            return accepted
        if len(_HEADS) >= HEADS_KEPT:
            _HEADS.pop(next(iter(_HEADS)))
        _HEADS[key] = accepted
    return accepted


@transaction.atomic
def commit_post(*, actor: User, room: Room, body: dict[str, Any], wraps: list[Any]) -> Commit:
    """Append the next commit of the room (compare-and-swap on the epoch) with its wraps.

    Raises StaleCommit when the commit does not extend the current head (the client rebuilds on
    the new head), ValidationError when it is malformed, unsigned, lists someone the union does not
    put in the room, or lacks a wrap. The room row is locked, so two commits of one epoch queue
    and the second finds the head moved; the unique (room, epoch) is the backstop.
    """
    try:
        parsed = ur1.parse_commit(body)
    except ur1.UR1Error:
        raise _bad(ERROR_COMMIT) from None
    room = Room.objects.select_for_update().get(pk=room.pk)
    if parsed.room != room.room_id:
        raise _bad(ERROR_COMMIT_ROOM)
    if parsed.epoch != room.epoch + 1 or (room.epoch >= 0 and ur1.b64u_encode(parsed.prev) != room.head_commit):
        raise StaleCommit
    if parsed.author_user != ur1_user_id(actor) or not Device.objects.filter(
            user=actor, device_id=parsed.author_device, revoked_at=None).exists():
        raise _bad(ERROR_COMMIT_AUTHOR)
    members = {m.user: user_by_ur1_id(m.user) for m in parsed.members}
    entitled = set(room_entitled_users(room).values_list("pk", flat=True))
    if any(user is None or user.pk not in entitled for user in members.values()):
        raise _bad(ERROR_COMMIT_NOT_ENTITLED)
    by_user = {user.pk: uid for uid, user in members.items() if user is not None}
    lists = latest_device_lists(list(by_user))
    try:
        device_lists = {by_user[dl.user_id]: [ur1.parse_device_list(dl.body)] for dl in lists}
        pins = {uid: ur1.Pin(msk=dls[0].msk) for uid, dls in device_lists.items()}
        accepted = ur1.accept_commit(body, room=room.room_id, previous=_accepted_head(room), pins=pins,
                                     device_lists=device_lists)
    except ur1.UR1Error:
        raise _bad(ERROR_COMMIT) from None
    cid = ur1.b64u_encode(accepted.commit_id)
    found = _check_wraps(room, parsed, cid, wraps)
    devices = {d.device_id: d for d in Device.objects.filter(device_id__in=found, revoked_at=None)}
    if set(devices) != set(found):
        raise _bad(ERROR_WRAPS)
    try:
        with transaction.atomic():
            saved = Commit.objects.create(room=room, epoch=parsed.epoch, commit_id=cid, author=actor,
                                          author_device=parsed.author_device, body=body)
    except IntegrityError:
        raise StaleCommit from None
    Wrap.objects.bulk_create([Wrap(room=room, epoch=parsed.epoch, to_device=devices[device_id], body=wrap)
                              for device_id, wrap in found.items()])
    room.epoch, room.head_commit = parsed.epoch, cid
    room.save(update_fields=["epoch", "head_commit"])
    before = set(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
    roles = {members[m.user].pk: m.role for m in parsed.members}  # type: ignore[union-attr]
    RoomMember.objects.filter(room=room).exclude(user_id__in=roles).delete()
    for user_id, role in roles.items():
        RoomMember.objects.update_or_create(room=room, user_id=user_id, defaults={"role": role})
    audit_record(actor, "messaging.commit", saved, local_id=room.local_id, room=str(room.code),
                 epoch=parsed.epoch, members=len(roles), devices=len(found))
    broadcast_on_commit(room_group(room), {"type": "room.commit", "room": str(room.code), "epoch": parsed.epoch})
    # Whoever joined or left must have their sockets re-checked: their set of rooms changed.
    for user_id in before ^ set(roles):
        recheck_sockets_on_commit(user_id)
    return saved


@transaction.atomic
def room_meta_set(*, actor: User, room: Room, blob: dict[str, Any]) -> Room:
    """Keep the room's sealed name and topic (messaging/ur1/meta.py): ciphertext the server cannot read.

    The caller checked that the actor is an admin of the room. The blob must come from one of the
    actor's devices listed in the current commit, in the current epoch (an older one is stale: 409),
    so a name set before a removal is replaced by one the removed member cannot read. Audited
    without the blob.
    """
    try:
        parsed = ur1.parse_meta(blob)
    except ur1.UR1Error:
        raise _bad(ERROR_META) from None
    if parsed.room != room.room_id or parsed.user != ur1_user_id(actor):
        raise _bad(ERROR_META)
    room = Room.objects.select_for_update().get(pk=room.pk)
    if parsed.epoch != room.epoch or ur1.b64u_encode(parsed.commit) != room.head_commit:
        raise StaleCommit
    head = _accepted_head(room)
    member = head.commit.member(parsed.user) if head is not None else None
    if head is None or member is None or member.role != "admin" or head.commit.device(parsed.user, parsed.device) is None \
            or not Device.objects.filter(user=actor, device_id=parsed.device, revoked_at=None).exists():
        raise _bad(ERROR_META)
    room.meta = blob
    room.save(update_fields=["meta"])
    audit_record(actor, "messaging.room_meta", room, local_id=room.local_id, epoch=parsed.epoch)
    broadcast_on_commit(room_group(room), {"type": "room.meta", "room": str(room.code), "epoch": parsed.epoch})
    return room


def rooms_tell_pending(*, local_id: int, grievance_id: int | None = None) -> int:
    """Who should be in a local's rooms (or a case's room) may have changed: tell their open pages
    once the change commits (`room.pending`); an admin's page then offers the rotation, a member's
    says who can perform it. The server changes no room's membership itself; the event carries
    nothing but the room's code, and a room no page has open costs one Redis PUBLISH. Returns the
    number of rooms told."""
    rooms = Room.objects.filter(grievance_id=grievance_id) if grievance_id else Room.objects.filter(local_id=local_id)
    return _tell_pending(rooms)


def _tell_pending(rooms: Any) -> int:
    events = [(room_group(room), {"type": "room.pending", "room": str(room.code)}) for room in rooms.only("pk", "code")]
    if events:
        broadcast_many_on_commit(events)
    return len(events)


# --- messages ----------------------------------------------------------------------------------

def envelope_size(envelope: Any) -> int:
    return len(json.dumps(envelope, separators=(",", ":")).encode())


def message_post(*, actor: User, room: Room, envelope: dict[str, Any],
                 condition: tuple[str, list[Any]] | None = None) -> Message:
    """Store one envelope (see `_message_store`); idempotent: the very same envelope sent again by
    the same account answers the message stored the first time, with its sequence number, and
    nothing is stored or relayed twice. That is what makes a browser's retry safe when the answer
    to the first send was lost. Looked up only when the store refuses it (a replay, or an epoch that
    moved on since), so the common path costs no extra query.

    `condition` (SQL and its parameters: the caller's access rule, `selectors.posting_condition`)
    must hold in the statement that takes the number; when it is given, the message is stored in
    that one statement or not at all (`NotStored`), never by a path that would not ask it.
    """
    try:
        return _message_store(actor=actor, room=room, envelope=envelope, condition=condition)
    except (StaleCommit, ValidationError):
        earlier = _same_message(actor, room, envelope)
        if earlier is None:
            raise
        return earlier


def _same_message(actor: User, room: Room, envelope: dict[str, Any]) -> Message | None:
    try:
        env = parse_envelope(envelope)
    except ur1.UR1Error:
        return None
    earlier = Message.objects.filter(room=room, epoch=env.epoch, sender_device=env.device, ctr=env.ctr).first()
    if earlier is None or earlier.sender_id != actor.pk or earlier.envelope != envelope:
        return None
    return earlier


def _message_store(*, actor: User, room: Room, envelope: dict[str, Any],
                   condition: tuple[str, list[Any]] | None = None) -> Message:
    """Store one envelope with the room's next sequence number, then relay it once committed.

    The sender must be one of the actor's devices listed in the room's current commit, sending in
    the current epoch (an older epoch is stale: 409). Not audited: a record per message would be
    a second, permanent log of who wrote when; the message row itself goes with the retention.

    Every message of a room queues on the room's row (its next number), so the row stays locked
    for as little as possible: everything that can be checked is checked first, against `room` as
    the caller read it (a stale copy is re-read); then the number is taken only while the room's
    epoch and head are still the envelope's and the sending device is not revoked. On PostgreSQL,
    outside a transaction (the rooms' socket), that is one statement, its own transaction: the
    number, the checks and the INSERT in one round trip (`_store_in_one_statement`). Otherwise, or
    when that statement stores nothing, `_store_locked` does it step by step and says what failed;
    with a `condition`, `NotStored` instead (the caller's rule must be asked again, step by step).
    """
    if envelope_size(envelope) > MAX_ENVELOPE_BYTES:
        raise _bad(ERROR_ENVELOPE_SIZE)
    try:
        env = parse_envelope(envelope)
    except ur1.UR1Error:
        raise _bad(ERROR_ENVELOPE) from None
    if env.room != room.room_id or env.user != ur1_user_id(actor):
        raise _bad(ERROR_SENDER)
    commit = ur1.b64u_encode(env.commit)
    if env.epoch != room.epoch or commit != room.head_commit:
        room.refresh_from_db()  # the caller's copy of the row may be older than the envelope
        if env.epoch != room.epoch or commit != room.head_commit:
            raise StaleCommit
    head = _accepted_head(room)
    if head is None or head.commit.device(env.user, env.device) is None:
        raise _bad(ERROR_SENDER)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        saved = _store_in_one_statement(actor, room, env, commit, envelope, condition)
        if saved is not None:
            _relay_message(room, saved.seq, envelope)
            return saved
    if condition is not None:
        raise NotStored
    return _store_locked(actor, room, env, commit, envelope)


def _store_in_one_statement(actor: User, room: Room, env: Any, commit: str, envelope: dict[str, Any],
                            condition: tuple[str, list[Any]] | None = None) -> Message | None:
    """PostgreSQL: take the number and insert, in one statement that is its own transaction.

    The UPDATE takes the next number only while the room's epoch and head are the envelope's, the
    device is the actor's and not revoked, and the caller's `condition` holds; the INSERT uses it.
    A replay fails the INSERT, which undoes the UPDATE with it (one statement). None when nothing
    was stored: the head moved, the device was revoked or the condition refused meanwhile, and the
    step-by-step path finds out which.
    """
    extra, extra_params = condition if condition is not None else ("TRUE", [])
    received_at = timezone.now()
    room_table, message_table, device_table = Room._meta.db_table, Message._meta.db_table, Device._meta.db_table
    sql = (
        f"WITH taken AS (UPDATE {room_table} SET last_seq = last_seq + 1 "  # noqa: S608 - table names are ours
        "WHERE id = %s AND epoch = %s AND head_commit = %s "
        f"AND EXISTS (SELECT 1 FROM {device_table} WHERE user_id = %s AND device_id = %s AND revoked_at IS NULL) "
        f"AND ({extra}) RETURNING last_seq) "
        f"INSERT INTO {message_table} (room_id, seq, epoch, sender_id, sender_device, ctr, envelope, received_at) "
        "SELECT %s, last_seq, %s, %s, %s, %s, %s::jsonb, %s FROM taken RETURNING id, seq"
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, [room.pk, env.epoch, commit, actor.pk, env.device, *extra_params,
                                 room.pk, env.epoch, actor.pk, env.device, env.ctr, json.dumps(envelope), received_at])
            row = cursor.fetchone()
    except IntegrityError:
        raise _bad(ERROR_REPLAY) from None
    if row is None:
        return None
    pk, seq = row
    room.last_seq = seq
    return Message(pk=pk, room=room, seq=seq, epoch=env.epoch, sender=actor, sender_device=env.device, ctr=env.ctr,
                   envelope=envelope, received_at=received_at)


@transaction.atomic
def _store_locked(actor: User, room: Room, env: Any, commit: str, envelope: dict[str, Any]) -> Message:
    if not Device.objects.filter(user=actor, device_id=env.device, revoked_at=None).exists():
        raise _bad(ERROR_SENDER)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Room._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s "  # noqa: S608
                       "RETURNING last_seq, epoch, head_commit", [room.pk])
        seq, epoch, head_commit = cursor.fetchone()
    if epoch != env.epoch or head_commit != commit:  # a commit landed meanwhile: the number goes back
        raise StaleCommit
    room.last_seq = seq
    try:
        # No savepoint: a replay ends the whole transaction (the number taken above goes with it).
        saved = Message.objects.create(room=room, seq=seq, epoch=env.epoch, sender=actor,
                                       sender_device=env.device, ctr=env.ctr, envelope=envelope)
    except IntegrityError:
        raise _bad(ERROR_REPLAY) from None
    _relay_message(room, seq, envelope)
    return saved


def _relay_message(room: Room, seq: int, envelope: dict[str, Any]) -> None:
    # The socket frame, encoded once here rather than once per socket by every consumer.
    code = str(room.code)
    frame = json.dumps({"type": "message", "room": code, "seq": seq, "envelope": envelope}, separators=(",", ":"))
    broadcast_on_commit(room_group(room), {"type": "room.message", "room": code, "seq": seq, "frame": frame})


@transaction.atomic
def read_mark(*, actor: User, room: Room, seq: int) -> int:
    """Mark the room read up to `seq` (never backwards, never past the last message)."""
    member = RoomMember.objects.select_for_update().get(room=room, user=actor)
    member.read_seq = max(member.read_seq, min(seq, room.last_seq))
    member.save(update_fields=["read_seq"])
    return member.read_seq


# --- backup ------------------------------------------------------------------------------------

@transaction.atomic
def backup_params_set(*, actor: User, body: dict[str, Any]) -> BackupParams:
    """Store the actor's backup KDF parameters, refused below the spec's minimum cost (§4.9)."""
    try:
        ur1.check_params(body)
    except ur1.UR1Error:
        raise _bad(ERROR_BACKUP_PARAMS) from None
    params, _created = BackupParams.objects.update_or_create(user=actor, defaults={"body": body,
                                                                                   "updated_at": timezone.now()})
    audit_record(actor, "messaging.backup_params", params)
    return params


@transaction.atomic
def backup_item_put(*, actor: User, body: dict[str, Any]) -> BackupItem:
    """Store or replace (by a higher version) one sealed backup item of the actor."""
    try:
        ur1.encoding.check_keys(body, ("v", "t", "kind", "id", "ver", "n", "ct"))
        ur1.encoding.check_id16(body["id"])
        ver = ur1.encoding.check_int(body["ver"])
        ur1.b64u_decode(ur1.encoding.check_str(body["n"]), 12)
        ur1.b64u_decode(ur1.encoding.check_str(body["ct"]))
    except ur1.UR1Error:
        raise _bad(ERROR_BACKUP_ITEM) from None
    if body["v"] != 1 or body["t"] != "bk" or body["kind"] not in ("epoch", "msk", "pins"):
        raise _bad(ERROR_BACKUP_ITEM)
    item = BackupItem.objects.select_for_update().filter(user=actor, item_id=body["id"]).first()
    if item is not None and ver <= item.ver:
        raise _bad(ERROR_BACKUP_VERSION)
    if item is None:
        item = BackupItem(user=actor, item_id=body["id"])
    item.kind, item.ver, item.body, item.updated_at = body["kind"], ver, body, timezone.now()
    item.save()
    return item


# --- retention ---------------------------------------------------------------------------------

@transaction.atomic
def rooms_apply_retention(*, now: Any = None) -> dict[str, int]:
    """Delete ciphertext older than each room's retention (§4.8): messages, and the wraps of epochs
    that ended before the cut-off (the current epoch's wraps stay, or members could not read on).

    Commits stay: they are public, signed and needed to verify the chain from genesis. The clients
    delete the epoch secrets themselves. Audited with counts only.
    """
    from datetime import timedelta

    from django.db.models import OuterRef, Subquery

    now = now or timezone.now()
    messages = wraps = 0
    for room in Room.objects.only("pk", "retention_days", "epoch"):
        cutoff = now - timedelta(days=room.retention_days)
        messages += Message.objects.filter(room=room, received_at__lt=cutoff).delete()[0]
        # An epoch ended when the next commit landed; its wraps go once that is past the cut-off.
        ended = Commit.objects.filter(room=room, epoch=OuterRef("epoch") + 1).values("created_at")[:1]
        old = (Wrap.objects.filter(room=room, epoch__lt=room.epoch).annotate(ended=Subquery(ended))
               .filter(ended__lt=cutoff))
        wraps += Wrap.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()[0]
    audit_record(None, "messaging.retention", None, messages=messages, wraps=wraps)
    return {"messages": messages, "wraps": wraps}
