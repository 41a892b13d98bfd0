"""Storing a message: on PostgreSQL outside a transaction (the rooms' socket) one statement takes the
number and inserts; every refusal still changes nothing and names its reason; inside a
transaction, or on SQLite, the step-by-step path does the same. With the poster's rule as a
condition (`posting_condition`, the socket's sends), the one statement asks it too, and nothing
is stored by any path that would not."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from membership.models import Member
from messaging.models import Device, Message, Room
from messaging.selectors import posting_condition
from messaging.services import ERROR_REPLAY, ERROR_SENDER, NotStored, StaleCommit, message_post
from tests.base import build_personas
from tests.messaging.rooms import enroll, land, local_room
from tests.services import need

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room_and_sender() -> tuple[Room, Any, Any, Any, Any]:
    p = build_personas()
    a, b = enroll(p.organizer), enroll(p.member)
    room = local_room(p.organizer, p.local)
    land(room, (p.organizer, a), [(p.organizer, a, "admin"), (p.member, b, "member")])
    room.refresh_from_db()
    return room, p.organizer, a, p.member, b


def unchanged(room: Room, last_seq: int, count: int) -> bool:
    return Room.objects.get(pk=room.pk).last_seq == last_seq and Message.objects.filter(room=room).count() == count


def test_on_postgresql_a_send_is_one_statement_and_reads_back_whole(room_and_sender: Any) -> None:
    need(connection.vendor == "postgresql", "the one-statement path is PostgreSQL's (set DATABASE_URL)")
    room, _org, _a, member, b = room_and_sender
    message_post(actor=member, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": "first"}))
    envelope = b.seal(room.room_id, {"type": "text", "text": "one round trip"})
    with CaptureQueriesContext(connection) as queries:  # the head commit was read by the first send
        saved = message_post(actor=member, room=room, envelope=envelope)
    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    stored = Message.objects.get(pk=saved.pk)
    assert (stored.seq, stored.epoch, stored.sender_id, stored.sender_device, stored.ctr, stored.envelope) == (
        2, room.epoch, member.pk, b.device_id, saved.ctr, envelope)
    assert Room.objects.get(pk=room.pk).last_seq == 2
    # The same envelope again answers the first (a retry after a lost ack), storing nothing.
    assert message_post(actor=member, room=room, envelope=envelope).seq == 2
    assert unchanged(room, 2, 2)


@pytest.mark.parametrize("in_transaction", [False, True], ids=["alone", "inside-a-transaction"])
def test_a_replayed_counter_is_refused_and_changes_nothing(room_and_sender: Any, in_transaction: bool) -> None:
    room, _org, _a, member, b = room_and_sender
    first = b.seal(room.room_id, {"type": "text", "text": "first"})
    message_post(actor=member, room=room, envelope=first)
    forged = {**first, "ct": first["ct"][::-1]}  # same device, epoch and counter, another body
    with pytest.raises(ValidationError) as refused:
        if in_transaction:
            with transaction.atomic():
                message_post(actor=member, room=room, envelope=forged)
        else:
            message_post(actor=member, room=room, envelope=forged)
    assert str(ERROR_REPLAY) in refused.value.messages
    assert unchanged(room, 1, 1)


def test_a_revoked_device_is_refused_and_changes_nothing(room_and_sender: Any) -> None:
    room, _org, _a, member, b = room_and_sender
    envelope = b.seal(room.room_id, {"type": "text", "text": "from a lost phone"})
    Device.objects.filter(user=member, device_id=b.device_id).update(revoked_at=timezone.now())
    with pytest.raises(ValidationError) as refused:
        message_post(actor=member, room=room, envelope=envelope)
    assert str(ERROR_SENDER) in refused.value.messages
    assert unchanged(room, 0, 0)


def test_an_old_epoch_is_stale_and_an_old_copy_of_the_room_is_read_again(room_and_sender: Any) -> None:
    room, org, a, member, b = room_and_sender
    copy = Room.objects.get(pk=room.pk)  # what a socket kept from before the next commit
    old = b.seal(room.room_id, {"type": "text", "text": "sealed in the old epoch"})
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    with pytest.raises(StaleCommit):
        message_post(actor=member, room=copy, envelope=old)
    assert unchanged(room, 0, 0)
    new = b.seal(room.room_id, {"type": "text", "text": "sealed in the new epoch"})
    assert message_post(actor=member, room=copy, envelope=new).seq == 1
    assert copy.epoch == Room.objects.get(pk=room.pk).epoch  # the copy itself was refreshed


def test_with_the_posters_rule_a_send_is_still_one_statement(room_and_sender: Any) -> None:
    need(connection.vendor == "postgresql", "the one-statement path is PostgreSQL's (set DATABASE_URL)")
    room, _org, _a, member, b = room_and_sender
    message_post(actor=member, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": "first"}))
    envelope = b.seal(room.room_id, {"type": "text", "text": "rule and number in one round trip"})
    with CaptureQueriesContext(connection) as queries:
        saved = message_post(actor=member, room=room, envelope=envelope, condition=posting_condition(member.pk, room))
    assert len(queries) == 1, [q["sql"][:80] for q in queries]
    assert "membership_member" in queries[0]["sql"] and saved.seq == 2
    assert Message.objects.get(pk=saved.pk).envelope == envelope


def test_when_the_posters_rule_refuses_nothing_is_stored(room_and_sender: Any) -> None:
    need(connection.vendor == "postgresql", "the one-statement path is PostgreSQL's (set DATABASE_URL)")
    room, _org, _a, member, b = room_and_sender
    condition = posting_condition(member.pk, room)  # asked while the member is in good standing
    Member.objects.filter(user=member).update(status=Member.Status.SUSPENDED)
    with pytest.raises(NotStored):
        message_post(actor=member, room=room, envelope=b.seal(room.room_id, {"type": "text", "text": "suspended"}),
                     condition=condition)
    assert unchanged(room, 0, 0)


@pytest.mark.parametrize("in_transaction", [False, True], ids=["alone", "inside-a-transaction"])
def test_a_condition_no_statement_can_ask_stores_nothing(room_and_sender: Any, in_transaction: bool) -> None:
    # On SQLite, or inside a transaction, there is no one statement: with a condition to honour, the
    # service stores nothing rather than store without asking it (the socket then asks step by step).
    room, _org, _a, member, b = room_and_sender
    envelope = b.seal(room.room_id, {"type": "text", "text": "not without the rule"})
    condition: tuple[str, list[Any]] | None
    if connection.vendor == "postgresql" and not in_transaction:
        condition = ("FALSE", [])  # a rule that refuses: the one statement stores nothing either
    else:
        condition = posting_condition(member.pk, room)
    assert condition is not None
    with pytest.raises(NotStored):
        if in_transaction:
            with transaction.atomic():
                message_post(actor=member, room=room, envelope=envelope, condition=condition)
        else:
            message_post(actor=member, room=room, envelope=envelope, condition=condition)
    assert unchanged(room, 0, 0)
