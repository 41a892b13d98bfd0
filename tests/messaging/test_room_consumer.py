"""The rooms' socket through the whole ASGI stack (origin, cookie, session, the base consumer's
re-checks) with real UR1 clients: live delivery after commit, error frames that change nothing,
the rate limit, and sockets closed when a member is removed from the room or suspended."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from membership.models import Member, User
from membership.services import member_set_status
from messaging import consumers
from messaging.models import Message, Room, RoomMember
from tests.base import build_personas, login_as
from tests.factories import make_local
from tests.messaging.rooms import enroll, land, local_room
from union.asgi import application
from union.consumers import CLOSE_ACCESS_CHANGED, CLOSE_UNAUTHORIZED

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/rooms/"


def cookie_of(user: Any) -> str:
    client = login_as(Client(), user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def socket(cookie: str | None) -> WebsocketCommunicator:
    # A page of this site: the origin check compares scheme, host and port (union/origins.py).
    headers = [(b"origin", settings.TESSERA_SITE_URL.encode())] + ([(b"cookie", cookie.encode())] if cookie else [])
    return WebsocketCommunicator(application, PATH, headers=headers)


@pytest.fixture
def world(settings: Any) -> dict[str, Any]:
    settings.TESSERA_WS_RECHECK_SECONDS = 60  # pushed events must do the work, not the timer
    p = build_personas()
    a, b = enroll(p.organizer), enroll(p.member)
    room = local_room(p.organizer, p.local)
    land(room, (p.organizer, a), [(p.organizer, a, "admin"), (p.member, b, "member")])
    return {"p": p, "a": a, "b": b, "room": room, "org_cookie": cookie_of(p.organizer),
            "mem_cookie": cookie_of(p.member), "out_cookie": cookie_of(p.outsider)}


def send_frame(room: Room, envelope: dict[str, Any], ref: str = "r1") -> dict[str, Any]:
    return {"type": "send", "room": str(room.code), "ref": ref, "envelope": envelope}


def test_messages_are_stored_then_delivered_to_every_member(world: dict[str, Any]) -> None:
    room, a, b = world["room"], world["a"], world["b"]

    async def scenario() -> None:
        org, mem = socket(world["org_cookie"]), socket(world["mem_cookie"])
        assert (await org.connect())[0] and (await mem.connect())[0]
        await mem.send_json_to(send_frame(room, b.seal(room.room_id, {"type": "text", "text": "hello"})))
        ack = await mem.receive_json_from(timeout=5)
        own = await mem.receive_json_from(timeout=5)
        got = await org.receive_json_from(timeout=5)
        assert ack == {"type": "ack", "ref": "r1", "room": str(room.code), "seq": 1}
        assert own["seq"] == got["seq"] == 1 and got["type"] == "message"
        assert json.loads(a.open(room.room_id, got["envelope"]).body)["text"] == "hello"
        await org.disconnect()
        await mem.disconnect()

    async_to_sync(scenario)()
    assert list(Message.objects.values_list("seq", flat=True)) == [1]


def test_the_same_envelope_sent_twice_is_acknowledged_twice_and_stored_once(world: dict[str, Any]) -> None:
    """An outbox retry whose first answer was lost: the same seq again, no second relay."""
    room, b = world["room"], world["b"]
    good = b.seal(room.room_id, {"type": "text", "text": "once"})

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        await mem.send_json_to(send_frame(room, good, "first"))
        assert (await mem.receive_json_from(timeout=5))["seq"] == 1
        assert (await mem.receive_json_from(timeout=5))["type"] == "message"
        await mem.send_json_to(send_frame(room, good, "again"))
        assert await mem.receive_json_from(timeout=5) == {"type": "ack", "ref": "again", "room": str(room.code),
                                                          "seq": 1}
        assert await mem.receive_nothing(timeout=0.5)
        await mem.disconnect()

    async_to_sync(scenario)()
    assert list(Message.objects.values_list("seq", flat=True)) == [1]
    assert Room.objects.get().last_seq == 1


CODES = {"not json": "frame", "extra": "frame", "wrong_room": "room", "replay": "refused", "too_big": "too_large",
         "stale": "stale", "binary": "frame", "deep": "frame"}


@pytest.mark.parametrize("bad", list(CODES))
def test_a_bad_frame_gets_an_error_frame_and_changes_nothing(world: dict[str, Any], bad: str) -> None:
    room, b = world["room"], world["b"]
    good = b.seal(room.room_id, {"type": "text", "text": "one"})

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        if bad == "replay":
            await mem.send_json_to(send_frame(room, good))
            assert (await mem.receive_json_from(timeout=5))["type"] == "ack"
            assert (await mem.receive_json_from(timeout=5))["type"] == "message"
        if bad == "stale":
            await database_sync_to_async(land)(room, (world["p"].organizer, world["a"]),
                                               [(world["p"].organizer, world["a"], "admin"),
                                                (world["p"].member, b, "member")])
            assert (await mem.receive_json_from(timeout=5))["type"] == "commit"
        frame: Any = {
            "not json": "{", "extra": json.dumps({**send_frame(room, good), "x": 1}),
            "wrong_room": json.dumps({**send_frame(room, good), "room": "00000000-0000-4000-8000-000000000000"}),
            "replay": json.dumps(send_frame(room, {**good, "n": ("A" if good["n"][0] != "A" else "B") + good["n"][1:]})),
            "stale": json.dumps(send_frame(room, good)),
            "too_big": json.dumps(send_frame(room, {**good, "ct": "A" * (91 * 1024)})), "binary": b"\x00",
            # Nested past the JSON parser's recursion limit: an error frame, not a crash with a traceback.
            "deep": "[" * 40000 + "]" * 40000,
        }[bad]
        if isinstance(frame, bytes):
            await mem.send_to(bytes_data=frame)
        else:
            await mem.send_to(text_data=frame)
        answer = await mem.receive_json_from(timeout=5)
        assert answer["type"] == "error" and "AAAA" not in json.dumps(answer)
        # The browser decides on the code (its sentence is translated there); detail stays for other clients.
        assert answer["code"] == CODES[bad] and answer["detail"]
        await mem.disconnect()

    async_to_sync(scenario)()
    assert Message.objects.count() == (1 if bad == "replay" else 0)
    assert Room.objects.get().last_seq == Message.objects.count()


def test_the_rate_limit_refuses_a_flood(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "RATE_PER_SECOND", 0.001)

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        answers = []
        for _ in range(consumers.RATE_BURST + 3):
            await mem.send_json_to({"type": "ping"})
            answers.append(await mem.receive_json_from(timeout=5))
        assert answers[:consumers.RATE_BURST] == [{"type": "pong"}] * consumers.RATE_BURST
        assert all(a["type"] == "error" and a["code"] == "rate" for a in answers[consumers.RATE_BURST:])
        await mem.disconnect()

    async_to_sync(scenario)()


def test_outsiders_and_anonymous_hear_nothing(world: dict[str, Any]) -> None:
    room, b = world["room"], world["b"]

    async def scenario() -> None:
        anonymous = socket(None)
        assert (await anonymous.connect())[0]
        assert (await anonymous.receive_output(timeout=2))["code"] == CLOSE_UNAUTHORIZED
        outsider = socket(world["out_cookie"])
        assert (await outsider.connect())[0]
        await outsider.send_json_to(send_frame(room, b.seal(room.room_id, {"type": "text", "text": "x"})))
        refused = await outsider.receive_json_from(timeout=5)
        assert (refused["code"], refused["detail"]) == ("room", consumers.ERROR_ROOM)
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        await mem.send_json_to(send_frame(room, b.seal(room.room_id, {"type": "text", "text": "y"})))
        assert (await mem.receive_json_from(timeout=5))["type"] == "ack"
        # The member's message was relayed; the outsider's socket got nothing after its error.
        assert await outsider.receive_nothing(timeout=0.3)
        await outsider.disconnect()
        await mem.disconnect()

    async_to_sync(scenario)()
    assert Message.objects.count() == 1


def test_removal_by_commit_closes_the_members_socket(world: dict[str, Any]) -> None:
    p, room, a = world["p"], world["room"], world["a"]

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        await database_sync_to_async(land)(room, (p.organizer, a), [(p.organizer, a, "admin")])
        assert (await mem.receive_json_from(timeout=5))["type"] == "commit"
        closed = await mem.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": CLOSE_ACCESS_CHANGED}

    async_to_sync(scenario)()


def test_suspension_closes_the_members_socket(world: dict[str, Any]) -> None:
    p = world["p"]

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        member = await database_sync_to_async(Member.objects.get)(user=p.member)
        await database_sync_to_async(member_set_status)(actor=p.organizer, member=member,
                                                        new=Member.Status.SUSPENDED, reason="test")
        output = await mem.receive_output(timeout=5)
        while output["type"] != "websocket.close":
            output = await mem.receive_output(timeout=5)
        assert output["code"] == CLOSE_ACCESS_CHANGED

    async_to_sync(scenario)()


ROLL_CHANGES = {
    # Each takes the room from the member without telling the socket (a queryset update sends no
    # event), so the socket still lists the room: only the send's own check can refuse.
    "suspended": lambda p, room: Member.objects.filter(user=p.member).update(status=Member.Status.SUSPENDED),
    "erased": lambda p, room: Member.objects.filter(user=p.member).update(erased_at=timezone.now()),
    "deactivated": lambda p, room: User.objects.filter(pk=p.member.pk).update(is_active=False),
    "moved to another local": lambda p, room: Member.objects.filter(user=p.member).update(
        local=make_local(name="Elsewhere")),
    "not in the commit": lambda p, room: RoomMember.objects.filter(room=room, user=p.member).delete(),
}


@pytest.mark.parametrize("change", ROLL_CHANGES, ids=list(ROLL_CHANGES))
def test_a_send_after_the_roll_changed_is_refused_before_the_socket_closes(world: dict[str, Any],
                                                                            change: str) -> None:
    p, room, b = world["p"], world["room"], world["b"]

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        await mem.send_json_to(send_frame(room, b.seal(room.room_id, {"type": "text", "text": "before"}), "r1"))
        assert (await mem.receive_json_from(timeout=5))["type"] == "ack"
        await database_sync_to_async(ROLL_CHANGES[change])(p, room)
        await mem.send_json_to(send_frame(room, b.seal(room.room_id, {"type": "text", "text": "after"}), "r2"))
        answer = await mem.receive_json_from(timeout=5)
        while answer["type"] == "message":  # the relayed copy of the first
            answer = await mem.receive_json_from(timeout=5)
        assert (answer["type"], answer["code"], answer["ref"]) == ("error", consumers.CODE_ROOM, "r2")
        await mem.disconnect()

    async_to_sync(scenario)()
    assert list(Message.objects.filter(room=room).values_list("seq", flat=True)) == [1]
    assert Room.objects.get(pk=room.pk).last_seq == 1


def test_a_refused_send_after_the_roll_changed_says_no_such_room_not_why(world: dict[str, Any]) -> None:
    # An envelope sealed by someone else is refused with its reason to a member; someone the roll
    # no longer allows hears "no such room" first, whatever else is wrong with the frame (the check
    # on the envelope comes before the statement that asks the roll).
    p, room, a = world["p"], world["room"], world["a"]

    async def scenario() -> None:
        mem = socket(world["mem_cookie"])
        assert (await mem.connect())[0]
        not_mine = a.seal(room.room_id, {"type": "text", "text": "the organizer's"})
        await mem.send_json_to(send_frame(room, not_mine, "r1"))
        answer = await mem.receive_json_from(timeout=5)
        assert (answer["type"], answer["code"], answer["ref"]) == ("error", consumers.CODE_REFUSED, "r1")
        await database_sync_to_async(ROLL_CHANGES["suspended"])(p, room)
        await mem.send_json_to(send_frame(room, not_mine, "r2"))
        answer = await mem.receive_json_from(timeout=5)
        assert (answer["type"], answer["code"], answer["ref"]) == ("error", consumers.CODE_ROOM, "r2")
        await mem.disconnect()

    async_to_sync(scenario)()
    assert not Message.objects.filter(room=room).exists()


def test_a_new_room_name_is_announced_without_its_blob(world: dict[str, Any]) -> None:
    """Members' pages hear that the name changed (and fetch the sealed blob over HTTP); the frame
    carries the epoch only, and a socket outside the room hears nothing."""
    from messaging.services import room_meta_set

    p, room, a = world["p"], world["room"], world["a"]
    blob = a.seal_meta(room.room_id, {"name": "Shift stewards"})

    async def scenario() -> None:
        mem, out = socket(world["mem_cookie"]), socket(world["out_cookie"])
        assert (await mem.connect())[0] and (await out.connect())[0]
        await database_sync_to_async(room_meta_set)(actor=p.organizer, room=room, blob=blob)
        assert await mem.receive_json_from(timeout=5) == {"type": "meta", "room": str(room.code), "epoch": blob["epoch"]}
        assert await out.receive_nothing(timeout=0.3)
        await mem.disconnect()
        await out.disconnect()

    async_to_sync(scenario)()
    assert Room.objects.get().meta == blob
