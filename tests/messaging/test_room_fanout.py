"""The process's relay of room events (messaging.consumers.RoomFanout): order, batches, who gets what.

One channel of the process follows each room some local socket is in; a message event is handed to
every socket of the room, and messages that arrive while the loop is busy go out together as one
batch frame to clients that asked for batches (`?batch=1`), one by one to others.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from messaging import consumers as room_consumers
from tests.base import build_personas
from tests.messaging.rooms import enroll, land, local_room
from tests.messaging.test_room_access_batch import cookie_of
from union.asgi import application


async def open_socket(cookie: str, path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[
        (b"origin", settings.TESSERA_SITE_URL.encode()), (b"cookie", cookie.encode())])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def frames_until(listener: WebsocketCommunicator, kind: str) -> list[dict[str, Any]]:
    """Frames read until one of type `kind` (included)."""
    read = []
    while True:
        frame = json.loads(await listener.receive_from(timeout=3))
        read.append(frame)
        if frame["type"] == kind:
            return read


def unpacked(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for frame in frames:
        out += frame["frames"] if frame["type"] == "batch" else [frame]
    return out


def message(room: Any, n: int) -> dict[str, Any]:
    frame = json.dumps({"type": "message", "room": str(room.code), "seq": n, "envelope": {"n": n}})
    return {"type": "room.message", "room": str(room.code), "seq": n, "frame": frame}


@pytest.fixture
def room_of_two(db: None) -> tuple[Any, list[str]]:
    p = build_personas()
    a, b = enroll(p.organizer), enroll(p.member)
    room = local_room(p.organizer, p.local)
    land(room, (p.organizer, a), [(p.organizer, a, "admin"), (p.member, b, "member")])
    return room, [cookie_of(p.organizer), cookie_of(p.member)]


@pytest.mark.django_db(transaction=True)
def test_a_burst_goes_out_in_order_batched_for_clients_that_ask_one_by_one_for_others(
        room_of_two: tuple[Any, list[str]]) -> None:
    room, (cookie_a, cookie_b) = room_of_two

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        batched = await open_socket(cookie_a, "/ws/rooms/?batch=1")
        plain = await open_socket(cookie_b, "/ws/rooms/")
        layer = get_channel_layer()
        assert layer is not None
        # Twenty messages and then a commit, sent without the loop running in between: the relay
        # finds them all waiting at once, as a busy process does.
        for n in range(1, 21):
            await layer.group_send(f"room.{room.pk}", message(room, n))
        await layer.group_send(f"room.{room.pk}", {"type": "room.commit", "room": str(room.code), "epoch": 2})
        got = await frames_until(batched, "commit"), await frames_until(plain, "commit")
        await batched.disconnect()
        await plain.disconnect()
        return got

    batched, plain = async_to_sync(run)()
    # Everything, in order, the commit after the messages before it, for both.
    for frames in (batched, plain):
        assert [f.get("seq") for f in unpacked(frames)] == [*range(1, 21), None]
        assert unpacked(frames)[-1] == {"type": "commit", "room": str(room.code), "epoch": 2}
    assert any(frame["type"] == "batch" for frame in batched)
    assert len(batched) < 21  # fewer frames than messages: that is the point
    assert all(frame["type"] != "batch" for frame in plain)
    assert len(plain) == 21


@pytest.mark.django_db(transaction=True)
def test_a_lone_message_is_sent_as_itself_and_only_to_the_room_s_sockets(
        room_of_two: tuple[Any, list[str]]) -> None:
    room, (cookie_a, _cookie_b) = room_of_two
    outsider_cookie = cookie_of(build_personas().outsider)

    async def run() -> tuple[dict[str, Any], bool]:
        member = await open_socket(cookie_a, "/ws/rooms/?batch=1")
        outsider = await open_socket(outsider_cookie, "/ws/rooms/?batch=1")
        layer = get_channel_layer()
        assert layer is not None
        await layer.group_send(f"room.{room.pk}", message(room, 7))
        got = json.loads(await member.receive_from(timeout=3))
        nothing = await outsider.receive_nothing(timeout=0.3)
        await member.disconnect()
        await outsider.disconnect()
        return got, nothing

    got, nothing = async_to_sync(run)()
    assert got == {"type": "message", "room": str(room.code), "seq": 7, "envelope": {"n": 7}}
    assert nothing


@pytest.mark.django_db(transaction=True)
def test_a_closed_socket_leaves_the_fanout_and_the_last_one_leaves_the_group(
        room_of_two: tuple[Any, list[str]]) -> None:
    room, (cookie_a, cookie_b) = room_of_two

    async def run() -> tuple[int, int, bool]:
        a = await open_socket(cookie_a, "/ws/rooms/?batch=1")
        b = await open_socket(cookie_b, "/ws/rooms/?batch=1")
        layer = get_channel_layer()
        fanout = room_consumers._fanout(layer)
        both = len(fanout.sockets[str(room.code)])
        await a.disconnect()
        one = len(fanout.sockets[str(room.code)])
        await b.disconnect()
        return both, one, str(room.code) in fanout.sockets

    both, one, still = async_to_sync(run)()
    assert (both, one, still) == (2, 1, False)


@pytest.mark.django_db(transaction=True)
def test_messages_within_the_window_go_together_and_a_quiet_room_s_message_goes_at_once(
        room_of_two: tuple[Any, list[str]], settings: Any) -> None:
    settings.TESSERA_ROOMS_FLUSH_SECONDS = 0.4
    room, (cookie_a, _cookie_b) = room_of_two

    async def run() -> tuple[float, dict[str, Any], float]:
        import asyncio
        import time

        socket = await open_socket(cookie_a, "/ws/rooms/?batch=1")
        layer = get_channel_layer()
        assert layer is not None
        began = time.monotonic()
        await layer.group_send(f"room.{room.pk}", message(room, 1))
        await socket.receive_from(timeout=3)
        first = time.monotonic() - began
        await layer.group_send(f"room.{room.pk}", message(room, 2))
        await asyncio.sleep(0.1)
        await layer.group_send(f"room.{room.pk}", message(room, 3))
        second = json.loads(await socket.receive_from(timeout=3))
        waited = time.monotonic() - began
        await socket.disconnect()
        return first, second, waited

    first, second, waited = async_to_sync(run)()
    assert first < 0.3  # the room was quiet: at once, not after the window
    assert second["type"] == "batch" and [f["seq"] for f in second["frames"]] == [2, 3]
    assert waited >= 0.4  # not before the window after the first flush
