"""The rooms' services with genuine UR1 clients: device lists, commits (compare-and-swap), wraps,
messages with per-room sequence numbers, backup; and who the union puts in each room."""

from __future__ import annotations

import copy

import pytest
from django.core.exceptions import ValidationError

from membership.models import Member
from messaging import ur1
from messaging.client import Account
from messaging.models import BackupItem, Commit, Device, DeviceList, Message, Room, RoomMember, Wrap
from messaging.selectors import pending_changes, room_entitled_users, room_ids_visible_to, ur1_user_id
from messaging.services import (
    StaleCommit,
    backup_item_put,
    backup_params_set,
    commit_post,
    device_list_publish,
    message_post,
)
from tests.base import Personas
from tests.messaging.rooms import enroll, land, local_room
from union.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_publishes_and_revokes_devices(personas: Personas) -> None:
    user = personas.member
    account = enroll(user)
    assert list(Device.objects.filter(user=user, revoked_at=None).values_list("device_id", flat=True)) == [
        account.device_id]
    second = Account(user_id=account.user_id, msk_seed=account.msk_seed)
    device_list_publish(actor=user, body=account.device_list(devices=[account.device(), second.device()]))
    device_list_publish(actor=user, body=account.device_list(devices=[second.device()]))
    assert Device.objects.get(device_id=account.device_id).revoked_at is not None
    assert Device.objects.get(device_id=second.device_id).revoked_at is None
    # A revoked device never comes back, and an old version is refused.
    with pytest.raises(ValidationError):
        device_list_publish(actor=user, body=account.device_list(devices=[account.device(), second.device()]))
    account.version = 1
    with pytest.raises(ValidationError):
        device_list_publish(actor=user, body=account.device_list(devices=[second.device()]))
    assert DeviceList.objects.filter(user=user).count() == 3
    assert AuditEvent.objects.filter(action="messaging.device_list").count() == 3


def test_it_refuses_someone_elses_or_unsigned_device_list(personas: Personas) -> None:
    account = enroll(personas.member)
    body = account.device_list()
    with pytest.raises(ValidationError):
        device_list_publish(actor=personas.outsider, body=body)
    forged = copy.deepcopy(account.device_list())
    forged["version"] += 1
    with pytest.raises(ValidationError):
        device_list_publish(actor=personas.member, body=forged)
    assert DeviceList.objects.filter(user=personas.member).count() == 1


def test_a_conversation_through_the_services(personas: Personas) -> None:
    org, member = personas.organizer, personas.member
    a, b = enroll(org), enroll(member)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin")])
    assert room_ids_visible_to(member) == frozenset()
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    assert room_ids_visible_to(member) == {room.pk}
    sent = [message_post(actor=member, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": f"hi {i}"}))
            for i in range(3)]
    assert [m.seq for m in sent] == [1, 2, 3]
    opened = [a.open(room.room_id, m.envelope) for m in Message.objects.filter(room=room).order_by("seq")]
    assert [ur1.encode_body({"type": "text", "text": f"hi {i}"}) for i in range(3)] == [o.body for o in opened]
    room.refresh_from_db()
    assert (room.epoch, room.last_seq) == (1, 3)
    assert set(RoomMember.objects.filter(room=room).values_list("user_id", "role")) == {
        (org.pk, "admin"), (member.pk, "member")}
    # Wraps are stored per device: each device's wrap opens only with that device's key.
    assert Wrap.objects.filter(room=room, epoch=1).count() == 2
    details = AuditEvent.objects.filter(action="messaging.commit").values_list("details", flat=True)
    assert all(set(d) <= {"room", "epoch", "members", "devices"} for d in details)


def test_a_stale_commit_gets_stale_commit_and_changes_nothing(personas: Personas) -> None:
    org, admin = personas.organizer, personas.local_admin
    a, c = enroll(org), enroll(admin)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin"), (admin, c, "admin")])
    # Both admins build epoch 1 on the same head; the first lands, the second is stale.
    first, first_wraps, _ = a.make_commit(room.room_id, [(a, "admin"), (c, "admin")])
    second, second_wraps, _ = c.make_commit(room.room_id, [(a, "admin"), (c, "admin")])
    commit_post(actor=org, room=room, body=first, wraps=first_wraps)
    with pytest.raises(StaleCommit):
        commit_post(actor=admin, room=room, body=second, wraps=second_wraps)
    assert list(Commit.objects.filter(room=room).values_list("epoch", "commit_id")) == [
        (0, Commit.objects.get(room=room, epoch=0).commit_id), (1, ur1.b64u_encode(ur1.commit_id(ur1.parse_commit(first))))]
    assert Wrap.objects.filter(room=room, epoch=1).count() == 2


def test_it_refuses_bad_commits_and_changes_nothing(personas: Personas) -> None:
    org, member, outsider = personas.organizer, personas.member, personas.outsider
    a, b, x = enroll(org), enroll(member), enroll(outsider)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin")])
    before = (Commit.objects.count(), Wrap.objects.count(), RoomMember.objects.count())

    # An outsider (another local) cannot be listed, even by a genuine admin.
    body, wraps, _ = a.make_commit(room.room_id, [(a, "admin"), (x, "member")])
    with pytest.raises(ValidationError):
        commit_post(actor=org, room=room, body=body, wraps=wraps)
    # A server-side tamper (an extra member after signing) fails the signature.
    body, wraps, _ = a.make_commit(room.room_id, [(a, "admin")])
    tampered = copy.deepcopy(body)
    tampered["members"].append({"user": b.user_id, "msk": ur1.b64u_encode(b.msk), "role": "member"})
    with pytest.raises(ValidationError):
        commit_post(actor=org, room=room, body=tampered, wraps=wraps)
    # A missing wrap, a commit by a non-admin, a commit posted by someone else's account.
    with pytest.raises(ValidationError):
        commit_post(actor=org, room=room, body=body, wraps=[])
    with pytest.raises(ValidationError):
        commit_post(actor=member, room=room, body=body, wraps=wraps)
    b.rooms[room.room_id] = copy.deepcopy(a.rooms[room.room_id])
    body, wraps, _ = b.make_commit(room.room_id, [(a, "admin"), (b, "member")])
    with pytest.raises(ValidationError):
        commit_post(actor=member, room=room, body=body, wraps=wraps)
    assert (Commit.objects.count(), Wrap.objects.count(), RoomMember.objects.count()) == before


def test_a_message_sent_again_after_a_rotation_is_the_stored_one(personas: Personas) -> None:
    """A retry that reaches the server after a new epoch: not a 409 (the client would seal it again
    in the new epoch and post it twice), but the message stored the first time."""
    org, member = personas.organizer, personas.member
    a, b = enroll(org), enroll(member)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    good = b.seal(room.room_id, {"type": "text", "text": "before"})
    first = message_post(actor=member, room=room, envelope=good)
    unsent = b.seal(room.room_id, {"type": "text", "text": "never sent"})  # same epoch, never posted
    land(Room.objects.get(pk=room.pk), (org, a), [(org, a, "admin"), (member, b, "member")])
    again = message_post(actor=member, room=Room.objects.get(pk=room.pk), envelope=good)
    assert (again.pk, again.seq) == (first.pk, first.seq)
    with pytest.raises(StaleCommit):  # an old-epoch envelope the server never stored is still stale
        message_post(actor=member, room=Room.objects.get(pk=room.pk), envelope=unsent)
    assert Message.objects.filter(room=room).count() == 1


def test_it_refuses_bad_messages_and_changes_nothing(personas: Personas) -> None:
    org, member = personas.organizer, personas.member
    a, b = enroll(org), enroll(member)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    good = b.seal(room.room_id, {"type": "text", "text": "one"})
    first = message_post(actor=member, room=room, envelope=good)
    # The same envelope again (an outbox retry whose answer was lost) is the same message, once.
    assert message_post(actor=member, room=room, envelope=good).seq == first.seq
    assert Message.objects.filter(room=room).count() == 1
    with pytest.raises(ValidationError):  # replay: the same counter with other bytes
        message_post(actor=member, room=room, envelope={**good, "n": ("A" if good["n"][0] != "A" else "B") + good["n"][1:]})
    with pytest.raises(ValidationError):  # the same envelope from another account is not a retry
        message_post(actor=org, room=room, envelope=good)
    with pytest.raises(ValidationError):  # claims another sender
        message_post(actor=org, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": "x"}))
    with pytest.raises(ValidationError):  # over 90 KiB
        message_post(actor=member, room=room, envelope={**good, "ct": "A" * (91 * 1024)})
    with pytest.raises(ValidationError):  # extra field
        message_post(actor=member, room=room, envelope={**b.seal(room.room_id, {"t": 1}), "preview": "hi"})
    stale = b.seal(room.room_id, {"type": "text", "text": "old epoch"})
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    with pytest.raises(StaleCommit):
        message_post(actor=member, room=room, envelope=stale)
    room.refresh_from_db()
    assert room.last_seq == 1 and Message.objects.filter(room=room).count() == 1


def test_the_roll_decides_who_should_be_in_the_room(personas: Personas) -> None:
    org, member = personas.organizer, personas.member
    a, b = enroll(org), enroll(member)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    assert personas.outsider not in room_entitled_users(room)
    assert pending_changes(room)["remove"] == []
    Member.objects.filter(user=member).update(status=Member.Status.SUSPENDED)
    assert member not in room_entitled_users(room)
    assert pending_changes(room)["remove"] == [ur1_user_id(member)]
    # The server never removes anyone by itself, but a suspended member reaches the room no more.
    assert RoomMember.objects.filter(room=room, user=member).exists()
    assert room_ids_visible_to(member) == frozenset()


def test_backup_params_and_items(personas: Personas) -> None:
    user = personas.member
    backup_params_set(actor=user, body=ur1.new_params())
    with pytest.raises(ValidationError):
        backup_params_set(actor=user, body={**ur1.new_params(), "it": 1000})
    bk = ur1.backup_key(b"\x01" * 32, ur1_user_id(user))
    item = ur1.seal_item(bk, ur1_user_id(user), "pins", {"pins": {}})
    backup_item_put(actor=user, body=item)
    with pytest.raises(ValidationError):  # a replay of the same version (rollback) is refused
        backup_item_put(actor=user, body=item)
    backup_item_put(actor=user, body=ur1.seal_item(bk, ur1_user_id(user), "pins", {"pins": {}}, ver=2,
                                                   item_id=item["id"]))
    assert BackupItem.objects.get(user=user).ver == 2
    assert Room.objects.count() == 0


def test_retention_deletes_old_ciphertext_and_keeps_the_chain(personas: Personas) -> None:
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    org, member = personas.organizer, personas.member
    a, b = enroll(org), enroll(member)
    room = local_room(org, personas.local, retention_days=30)
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    old = message_post(actor=member, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": "old"}))
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    fresh = message_post(actor=member, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": "new"}))
    long_ago = timezone.now() - timedelta(days=31)
    Message.objects.filter(pk=old.pk).update(received_at=long_ago)
    Commit.objects.filter(room=room).update(created_at=long_ago)
    call_command("rooms_retention")
    assert list(Message.objects.filter(room=room).values_list("pk", flat=True)) == [fresh.pk]
    # Epoch 0 ended more than 30 days ago: its wraps are gone; the current epoch's stay, however old.
    assert sorted(set(Wrap.objects.filter(room=room).values_list("epoch", flat=True))) == [1]
    assert Commit.objects.filter(room=room).count() == 2
    assert AuditEvent.objects.filter(action="messaging.retention").exists()


def test_a_unit_room_holds_the_units_members_in_good_standing(personas: Personas) -> None:
    from messaging.client import new_id16
    from messaging.services import room_create
    from tests.factories import make_unit

    unit = make_unit(personas.local)
    Member.objects.filter(user__in=[personas.member, personas.organizer]).update(unit=unit)
    room = room_create(actor=personas.organizer, kind=Room.Kind.UNIT, local=personas.local, unit=unit,
                       room_id=new_id16(), retention_days=90, verified_only=True)
    assert set(room_entitled_users(room)) == {personas.member, personas.organizer}
    Member.objects.filter(user=personas.member).update(status=Member.Status.RESIGNED)
    assert set(room_entitled_users(room)) == {personas.organizer}
