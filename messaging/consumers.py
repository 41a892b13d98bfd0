"""The rooms' socket: one per page, subscribed to every room the user may read.

It stands on `AuthenticatedConsumer` (union/consumers.py): the session, the officers' second factor,
roles and member statuses are re-checked by pushed events and the per-process timer, and
`access_states` adds the set of rooms the user may read now, for all of a process's room sockets
in a few queries per re-check. When that set changes (a commit added or removed the user, the roll
took their right away) the socket closes with CLOSE_ACCESS_CHANGED and the page reconnects,
fetching everything after its last sequence number over HTTP.

Frames are validated by the same declared schemas as the HTTP API (messaging/schemas.py). A frame
that fails any check (shape, size, rate, room, sender, epoch) gets an error frame and changes
nothing. Only a send costs a database visit: it runs the HTTP API's access check and service in one
call, and the service commits the message with its sequence number before it is broadcast
(`broadcast_on_commit`). Relayed messages and pings touch no database. No frame body, envelope,
key or room name is ever logged (the server has no room name anyway).
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404
from pydantic import TypeAdapter
from pydantic import ValidationError as SchemaError

from messaging.models import MAX_ENVELOPE_BYTES
from messaging.permissions import access_room_to_post
from messaging.schemas import PingFrame, SendFrame
from messaging.selectors import rooms_visible_to_users
from messaging.services import ERROR_STALE, StaleCommit, message_post, room_group
from union.consumers import AuthenticatedConsumer
from union.realtime import deferred_broadcasts, send_deferred

# An envelope of at most 90 KiB plus the frame around it.
MAX_FRAME = MAX_ENVELOPE_BYTES + 1024
# Per socket: a burst of RATE_BURST frames, refilled at RATE_PER_SECOND (a person types slower;
# a script flooding one socket is refused frame by frame, without closing the page).
RATE_PER_SECOND = 5.0
RATE_BURST = 20

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


class RoomConsumer(AuthenticatedConsumer):
    tokens: float = RATE_BURST
    refilled: float = 0.0
    rooms: dict[str, int]

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
        for pk in self.rooms.values():
            await self.channel_layer.group_add(f"room.{pk}", self.channel_name)

    async def leave(self) -> None:
        for pk in getattr(self, "rooms", {}).values():
            await self.channel_layer.group_discard(f"room.{pk}", self.channel_name)

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
            seq, events = await database_sync_to_async(_post)(self.scope["user"], code, frame.envelope.model_dump())
        except StaleCommit:
            await self.error(CODE_STALE, str(ERROR_STALE), frame.ref)
            return
        except Http404:
            await self.error(CODE_ROOM, ERROR_ROOM, frame.ref)
            return
        except ValidationError as failure:  # the envelope, its sender or a replay: the service says which
            await self.error(CODE_REFUSED, " ".join(failure.messages), frame.ref)
            return
        await send_deferred(events)  # the relay, from this loop rather than the database thread
        await self.send_json({"type": "ack", "ref": frame.ref, "room": code, "seq": seq})

    async def room_message(self, event: dict[str, Any]) -> None:
        # The frame comes encoded (messaging.services.message_post): no JSON work per socket.
        if self.open and event.get("room") in self.rooms:
            await self.send(text_data=event["frame"])

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


def _post(user: Any, code: str, envelope: dict[str, Any]) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """One database visit per send: the same access rule as the HTTP API's post, then the service.

    Returns the number and the events the service sent on commit, collected for the consumer to
    send from the event loop (`deferred_broadcasts`).
    """
    with deferred_broadcasts() as events:
        room = access_room_to_post(user, code)
        seq = message_post(actor=user, room=room, envelope=envelope).seq
    return seq, events


__all__ = ["RoomConsumer", "room_group"]
