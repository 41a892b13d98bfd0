"""The rooms' socket: one per page, subscribed to every room the user may read.

It stands on `AuthenticatedConsumer` (union/consumers.py): the session, the officers' second factor,
roles and member statuses are re-checked by pushed events and the per-process timer, and
`access_states` adds the set of rooms the user may read now, for all of a process's room sockets
in a few queries per re-check. When that set changes (a commit added or removed the user, the roll
took their right away) the socket closes with CLOSE_ACCESS_CHANGED and the page reconnects,
fetching everything after its last sequence number over HTTP.

Frames are validated by the same declared schemas as the HTTP API (messaging/schemas.py). A frame
that fails any check (shape, size, rate, room, sender, epoch) gets an error frame and changes
nothing. Only a send costs a database visit: it runs the HTTP API's rule for posting (the roll,
asked afresh) and the service in one call, and the service commits the message with its sequence
number before it is broadcast (`broadcast_on_commit`); on PostgreSQL, in a local's or a unit's
room, that is one statement, the rule inside it (`_post`). Relayed messages and pings touch no
database: the process's `RoomFanout` hands each room event to the room's sockets, in batches
while busy. No frame body, envelope, key or room name is ever logged (the server has no room name
anyway).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Hashable
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from pydantic import TypeAdapter
from pydantic import ValidationError as SchemaError

from messaging.models import MAX_ENVELOPE_BYTES, Room
from messaging.permissions import room_pk_to_post, room_post_condition
from messaging.schemas import PingFrame, SendFrame
from messaging.selectors import rooms_visible_to_users
from messaging.services import ERROR_STALE, NotStored, StaleCommit, message_post, room_group
from union.consumers import AuthenticatedConsumer
from union.realtime import deferred_broadcasts, send_deferred

# An envelope of at most 90 KiB plus the frame around it.
MAX_FRAME = MAX_ENVELOPE_BYTES + 1024
# Per socket: a burst of RATE_BURST frames, refilled at RATE_PER_SECOND (a person types slower;
# a script flooding one socket is refused frame by frame, without closing the page).
RATE_PER_SECOND = 5.0
RATE_BURST = 20

logger = logging.getLogger(__name__)

FRAMES: TypeAdapter[SendFrame | PingFrame] = TypeAdapter(SendFrame | PingFrame)

# Error frames carry a stable machine `code`, which the browser turns into a sentence in its
# reader's language (messaging/texts.py), and a `detail` in English for other clients and for
# whoever reads a trace (messaging/client shows it). Codes never change meaning; new ones may come.
ERROR_FRAME = "invalid frame"
ERROR_TOO_LARGE = "frame larger than 90 KiB"
ERROR_RATE = "too many frames: slow down"
ERROR_ROOM = "no such room"
CODE_FRAME, CODE_TOO_LARGE, CODE_RATE, CODE_ROOM, CODE_STALE, CODE_REFUSED = (
    "frame", "too_large", "rate", "room", "stale", "refused")


class RoomFanout:
    """A process's relay of room events to its room sockets: one channel-layer subscription per room.

    Each socket joining the room's group itself cost, per message and per socket, a queue, a task
    woken up, a decoding of the event and a dispatch: for 125 sockets of one room on one process,
    125 of each for every message. Here one channel of the process (per event loop) joins the group
    of every room some local socket follows; an event is decoded once and handed to each socket.

    Message frames are coalesced while the process is busy: the process flushes its rooms' waiting
    messages at most once every `TESSERA_ROOMS_FLUSH_SECONDS` (0.05 s by default), as one
    `{"type": "batch", "frames": [...]}` frame per room and socket, to sockets whose client asked
    for batches (`?batch=1`); others get each frame on its own. A message that finds the process
    quiet goes out on the next pass of the event loop, alone (a batch of one is the frame itself);
    under load, fewer and larger frames go out, and frames are where a process spends its time (each
    is several Python layers deep in Daphne and a few system calls in Twisted, whatever its size).
    Order within a room is kept, and a commit, meta or pending event goes out at once, after the
    messages before it.
    """

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.sockets: dict[str, set[RoomConsumer]] = {}  # room code -> this process's sockets in it
        self.pending: dict[str, list[str]] = {}  # room code -> encoded message frames not yet sent
        self.reader: asyncio.Task[None] | None = None
        self.flusher: asyncio.Task[None] | None = None
        self.flushed = 0.0  # when the last flush began (monotonic)

    async def add(self, code: str, pk: int, consumer: RoomConsumer) -> None:
        """Deliver the room's events to `consumer` from now on (subscribed when this returns)."""
        if self.channel is None:
            self.channel = await self.layer.new_channel()
        if self.reader is None or self.reader.done():
            self.reader = asyncio.ensure_future(self.read())
        self.sockets.setdefault(code, set()).add(consumer)
        # Every joiner awaits the subscription, also when another socket asked first: the layer
        # subscribes once, and the socket is accepted only after this returns.
        await self.layer.group_add(f"room.{pk}", self.channel)

    async def discard(self, code: str, pk: int, consumer: RoomConsumer) -> None:
        sockets = self.sockets.get(code)
        if sockets is None or consumer not in sockets:
            return
        sockets.discard(consumer)
        if not sockets:
            del self.sockets[code]
            self.pending.pop(code, None)
            if self.channel is not None:
                await self.layer.group_discard(f"room.{pk}", self.channel)

    async def read(self) -> None:
        assert self.channel is not None
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the layer's own trouble (Redis restarting): go on reading
                logger.warning("The rooms' relay could not read from the channel layer.", exc_info=True)
                await asyncio.sleep(1)
                continue
            code = event.get("room")
            if not isinstance(code, str) or code not in self.sockets:
                continue
            if event.get("type") == "room.message" and isinstance(event.get("frame"), str):
                self.pending.setdefault(code, []).append(event["frame"])
                if self.flusher is None or self.flusher.done():
                    # Runs once this task waits for the layer (after every event already arrived),
                    # and not sooner than the window after the previous flush.
                    self.flusher = asyncio.ensure_future(self.flush(self.flushed + flush_seconds() - time.monotonic()))
                continue
            await self.flush_room(code)  # the messages before a commit go out before it
            handler = getattr(RoomConsumer, get_handler_name(event), None)
            if handler is None:
                continue
            for consumer in list(self.sockets.get(code, ())):
                try:
                    await handler(consumer, event)
                except Exception:  # noqa: BLE001 - one socket's failure must not stop the others' relay
                    logger.warning("A room event could not be delivered to one socket.", exc_info=True)

    async def flush(self, wait: float = 0.0) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        self.flushed = time.monotonic()
        for code in list(self.pending):
            await self.flush_room(code)
        if self.pending:  # arrived while sending: the next window
            self.flusher = asyncio.ensure_future(self.flush(flush_seconds()))

    async def flush_room(self, code: str) -> None:
        frames = self.pending.pop(code, None)
        if not frames:
            return
        batch = frames[0] if len(frames) == 1 else '{"type":"batch","frames":[' + ",".join(frames) + "]}"
        for consumer in list(self.sockets.get(code, ())):
            if not consumer.open:  # between the end of its rights and leaving the fanout
                continue
            try:
                if consumer.batches or len(frames) == 1:
                    await consumer.send(text_data=batch)
                else:
                    for frame in frames:
                        await consumer.send(text_data=frame)
            except Exception:  # noqa: BLE001 - as in read()
                logger.warning("Room messages could not be delivered to one socket.", exc_info=True)


def flush_seconds() -> float:
    return float(getattr(settings, "TESSERA_ROOMS_FLUSH_SECONDS", 0.05))


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RoomFanout] = weakref.WeakKeyDictionary()


def _fanout(layer: Any) -> RoomFanout:
    """The fanout of the running event loop (one per Daphne process; one per test's loop)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None or fanout.layer is not layer:
        fanout = _fanouts[loop] = RoomFanout(layer)
    return fanout


class RoomConsumer(AuthenticatedConsumer):
    tokens: float = RATE_BURST
    refilled: float = 0.0
    rooms: dict[str, int]
    batches: bool = False

    def access_state(self, user: Any) -> Hashable | None:
        """The rooms the user may read now, as (code, pk) pairs; runs in the database thread."""
        return self.access_states([(self, user)])[0]

    @classmethod
    def access_states(cls, sockets: list[tuple[Any, Any]]) -> list[Hashable | None]:
        """The rooms of every socket's user, for all the process's room sockets in a few queries."""
        rooms = rooms_visible_to_users({user.pk for _consumer, user in sockets})
        return [rooms.get(user.pk, frozenset()) for _consumer, user in sockets]

    async def join(self) -> None:
        assert self.rights is not None
        rooms: frozenset[tuple[str, int]] = self.rights[-1]  # type: ignore[assignment]  # access_state's answer
        self.rooms = dict(rooms)
        self.refilled = time.monotonic()
        # Batches only for clients that say they read them (ours do); anyone else gets one frame each.
        self.batches = b"batch=1" in self.scope.get("query_string", b"").split(b"&")
        fanout = _fanout(self.channel_layer)
        for code, pk in self.rooms.items():
            await fanout.add(code, pk, self)

    async def leave(self) -> None:
        fanout = _fanout(self.channel_layer)
        for code, pk in getattr(self, "rooms", {}).items():
            await fanout.discard(code, pk, self)

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.refilled) * RATE_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def error(self, code: str, detail: str, ref: str | None = None) -> None:
        await self.send_json({"type": "error", "ref": ref, "code": code, "detail": detail})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if not self.open:
            return
        if not self._take_token():
            await self.error(CODE_RATE, ERROR_RATE)
            return
        if text_data is None:
            await self.error(CODE_FRAME, ERROR_FRAME)
            return
        if len(text_data) > MAX_FRAME:
            await self.error(CODE_TOO_LARGE, ERROR_TOO_LARGE)
            return
        try:
            frame = FRAMES.validate_python(json.loads(text_data))
        # json's ValueError, its RecursionError (a frame nested thousands deep) or the schema's error:
        # one error frame, never the input echoed nor a traceback in the log.
        except (ValueError, RecursionError, SchemaError):
            await self.error(CODE_FRAME, ERROR_FRAME)
            return
        if isinstance(frame, PingFrame):
            await self.send_json({"type": "pong"})
            return
        await self.send_message(frame)

    async def send_message(self, frame: SendFrame) -> None:
        code = str(frame.room)
        if code not in self.rooms:  # the last check's view: no database visit to refuse
            await self.error(CODE_ROOM, ERROR_ROOM, frame.ref)
            return
        try:
            seq, events = await database_sync_to_async(_post)(self.scope["user"], code, self.rooms[code],
                                                              frame.envelope.model_dump())
        except StaleCommit:
            await self.error(CODE_STALE, str(ERROR_STALE), frame.ref)
            return
        except Http404:
            await self.error(CODE_ROOM, ERROR_ROOM, frame.ref)
            return
        except ValidationError as failure:  # the envelope, its sender or a replay: the service says which
            await self.error(CODE_REFUSED, " ".join(failure.messages), frame.ref)
            return
        # The sender learns its number first, then the relay goes out (from this loop rather than
        # the database thread); with the in-process layer the relayed copy would otherwise overtake it.
        await self.send_json({"type": "ack", "ref": frame.ref, "room": code, "seq": seq})
        await send_deferred(events)

    async def room_pending(self, event: dict[str, Any]) -> None:
        """Who should be in the room changed: admins' pages offer the rotation."""
        if self.open and event.get("room") in self.rooms:
            await self.send_json({"type": "pending", "room": event["room"]})

    async def room_meta(self, event: dict[str, Any]) -> None:
        """An admin sealed a new name: pages fetch the room's detail and open it under K_m."""
        if self.open and event.get("room") in self.rooms:
            await self.send_json({"type": "meta", "room": event["room"], "epoch": event["epoch"]})

    async def room_commit(self, event: dict[str, Any]) -> None:
        if self.open and event.get("room") in self.rooms:
            await self.send_json({"type": "commit", "room": event["room"], "epoch": event["epoch"]})


def _post(user: Any, code: str, pk: int, envelope: dict[str, Any]) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """One database visit per send: the same access rule as the HTTP API's post, and the service.

    In a local's or a unit's room (the busy ones), on PostgreSQL, the rule is asked inside the
    statement that stores the message (`permissions.room_post_condition`): one round trip, and no
    query built per send. When that stores nothing, or for other rooms, the rule is asked step by step first
    (`room_pk_to_post`: someone it refuses hears "no such room", whatever else is wrong), then the
    service stores the message or says why not. `pk` is the room's key as the socket's last check
    found it; a room the user may no longer read is refused either way.

    Returns the number and the events the service sent on commit, collected for the consumer to
    send from the event loop (`deferred_broadcasts`).
    """
    room = _room_copy(pk, code)
    condition = room_post_condition(user, room)
    with deferred_broadcasts() as events:
        if condition is not None:
            try:
                return message_post(actor=user, room=room, envelope=envelope, condition=condition).seq, events
            except NotStored:
                pass
            except (StaleCommit, ValidationError):
                room_pk_to_post(user, code)  # the roll before the reason: Http404 for someone it refuses
                raise
        seq = message_post(actor=user, room=_room_copy(room_pk_to_post(user, code), code), envelope=envelope).seq
    return seq, events


# The process's copies of room rows, for sends: a room's id, code and local never change, and the
# service refreshes the copy when its epoch or head is older than the envelope's.
_ROOM_COPIES: dict[tuple[int, str], Room] = {}
ROOM_COPIES_KEPT = 1024


def _room_copy(pk: int, code: str) -> Room:
    room = _ROOM_COPIES.get((pk, code))
    if room is None:
        room = Room.objects.get(pk=pk)
        if len(_ROOM_COPIES) >= ROOM_COPIES_KEPT:
            _ROOM_COPIES.pop(next(iter(_ROOM_COPIES)))
        _ROOM_COPIES[(pk, code)] = room
    return room


__all__ = ["RoomConsumer", "room_group"]
