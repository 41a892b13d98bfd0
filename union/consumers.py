"""Authenticated sockets: `AuthenticatedConsumer` for every socket of the project, and the notifications.

A socket outlives the HTTP request that authenticated it. Logging out on another device, an
officer ending someone's sessions, a deactivation, a lost role or a suspension all change what the
socket may do, and it must learn so within seconds. Asking the database on every frame did that,
but at one round trip per delivered event through Daphne's one database thread (p50 1.5 s for 250
clients). So the guarantee now rests on two legs:

- Pushed events, sent on commit to the user's group by every service that changes access:
  `session.end` closes at once; `roles.changed` and `access.changed` make the socket re-check at
  once, and close if the session or the rights it was opened with no longer hold.
- A re-check on a timer, at most every `TESSERA_WS_RECHECK_SECONDS` (5 by default), whatever the
  traffic, for when an event is lost (a Redis restart, a Daphne process that was busy). Frames and
  events in between cost no database query: they read the result of the last check.

The re-check asks the database whether the stored session still logs the user in, as an HTTP
request would find it, then the hooks named in `TESSERA_SESSION_CHECKS` (the core names no feature
app; membership adds the officers' second factor and the user's roles and statuses), then the
subclass's own `access_state()` (a room asks whether the user is still in the room). Each hook
answers None to refuse, or a summary of the rights the socket holds; when that summary changes the
socket closes with CLOSE_ACCESS_CHANGED and the page reconnects under its new rights.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Hashable
from functools import lru_cache
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from union.realtime import user_group

# Close codes the browser client acts on (static/js/notifications.js).
CLOSE_SESSION_ENDED = 4001  # the session is over: log in again (the client stops)
CLOSE_ACCESS_CHANGED = 4003  # the rights changed: reconnect to be authorized afresh
CLOSE_UNAUTHORIZED = 4401  # no valid session at connect: retrying cannot help (the client stops)
# Clients only ever send {"type": "ping"}; anything longer is not ours and is not parsed.
MAX_CLIENT_FRAME = 256
CLOSE_SERVER_ERROR = 1011  # the re-check itself failed: fail closed, the client retries later
DEFAULT_RECHECK_SECONDS = 5.0

logger = logging.getLogger(__name__)

# A hook: (user, session) -> None to refuse, else a hashable summary of the rights it vouches for.
SessionCheck = Callable[[Any, SessionBase], Hashable | None]


def recheck_seconds() -> float:
    """How stale a socket's view of its session may get when a revocation event is lost."""
    return float(getattr(settings, "TESSERA_WS_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))


@lru_cache(maxsize=8)
def _import_hooks(paths: tuple[str, ...]) -> tuple[SessionCheck, ...]:
    return tuple(import_string(path) for path in paths)


def session_checks() -> tuple[SessionCheck, ...]:
    """The hooks named in settings, imported once per distinct list (tests change the setting)."""
    return _import_hooks(tuple(getattr(settings, "TESSERA_SESSION_CHECKS", ())))


def session_user(session_key: str | None, user_id: int) -> tuple[Any, SessionBase] | None:
    """The active user this stored session still logs in, with the session; None if it does not.

    Reads the session store afresh (a logout deletes the row), the user (deleted or deactivated)
    and the session hash (ending all sessions changes the nonce mixed into it; so does a new
    password).
    """
    if not session_key:
        return None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if str(session.get(SESSION_KEY, "")) != str(user_id):
        return None
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    stored_hash = session.get(HASH_SESSION_KEY) or ""
    if user is None or not stored_hash:
        return None
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(stored_hash, candidate) for candidate in hashes):
        return None
    return user, session


def session_state(session_key: str | None, user_id: int) -> tuple[Any, tuple[Hashable, ...]] | None:
    """The user and the rights the hooks grant this session, or None when the session is refused."""
    found = session_user(session_key, user_id)
    if found is None:
        return None
    user, session = found
    states = []
    for check in session_checks():
        state = check(user, session)
        if state is None:
            return None
        states.append(state)
    return user, tuple(states)


class AuthenticatedConsumer(AsyncJsonWebsocketConsumer):
    """A socket of one logged-in user that closes when the session or the user's rights change.

    Subclasses add handlers for their events and may override `access_state()` (run in the
    database thread at connect and at every re-check) and `join()` / `leave()` for their groups.
    Handlers of events call nothing in the database: they trust the last check, which the timer
    and the pushed events keep at most `TESSERA_WS_RECHECK_SECONDS` old.
    """

    user_id: int | None = None
    session_key: str | None = None
    rights: tuple[Hashable, ...] | None = None
    _watcher: asyncio.Task[None] | None = None

    def access_state(self, user: Any) -> Hashable | None:
        """Rights this socket needs beyond a valid session (None refuses). Runs in the database thread."""
        return True

    def _check(self, session_key: str | None, user_id: int) -> tuple[Hashable, ...] | None:
        found = session_state(session_key, user_id)
        if found is None:
            return None
        user, states = found
        own = self.access_state(user)
        return None if own is None else (*states, own)

    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        rights = None
        if user is not None and user.is_authenticated and session is not None:
            rights = await database_sync_to_async(self._check)(session.session_key, user.pk)
        if rights is None:
            # Accept, then close with a code: a refused handshake reaches the browser as a bare
            # 1006, which a client cannot tell from a network failure and would retry for ever.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # Join before accepting: once the page sees the socket open, nothing sent to it is missed.
        self.user_id, self.session_key, self.rights = user.pk, session.session_key, rights
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.join()
        await self.accept()
        self._watcher = asyncio.ensure_future(self._watch())

    async def join(self) -> None:
        """Join the subclass's own groups (the user's group is joined already)."""

    async def leave(self) -> None:
        """Leave the subclass's own groups."""

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        if self._watcher is not None and self._watcher is not asyncio.current_task():
            self._watcher.cancel()
        self._watcher = None
        if self.user_id is not None:
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
            await self.leave()
            self.user_id = None

    async def end(self, code: int) -> None:
        """Leave the groups first, so nothing queued behind this is delivered, then close."""
        await self._leave()
        await self.close(code=code)

    @property
    def open(self) -> bool:
        """Whether the socket still stands; handlers deliver only while it does."""
        return self.user_id is not None

    async def recheck(self) -> bool:
        """Ask the database now; close and return False if the session or the rights changed."""
        if self.user_id is None:
            return False
        rights = await database_sync_to_async(self._check)(self.session_key, self.user_id)
        if self.user_id is None:  # closed meanwhile (a session.end overtook the check)
            return False
        if rights is None:
            await self.end(CLOSE_SESSION_ENDED)
            return False
        if rights != self.rights:
            await self.end(CLOSE_ACCESS_CHANGED)
            return False
        return True

    async def _watch(self) -> None:
        window = recheck_seconds()
        # The first wait is drawn at random, so sockets opened together do not all ask at once;
        # every wait stays within the window, which is the promise.
        delay = random.uniform(window / 2, window)  # noqa: S311 - spreading load, not a secret
        while True:
            await asyncio.sleep(delay)
            try:
                still_open = await self.recheck()
            except Exception:  # noqa: BLE001 - a socket whose rights cannot be checked must not stay open
                logger.warning("Closing a socket whose session could not be re-checked.")
                await self.end(CLOSE_SERVER_ERROR)
                return
            if not still_open:
                return
            delay = window

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # The base class raises on binary frames and bad JSON, which would end the consumer with a
        # 1011; a client that sends rubbish is simply not answered.
        if text_data is None or len(text_data) > MAX_CLIENT_FRAME or not self.open:
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            return
        if isinstance(content, dict):
            await self.receive_frame(content)

    async def receive_frame(self, content: dict[str, Any]) -> None:
        """A client frame, parsed; the base answers pings."""
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def session_end(self, event: dict[str, Any]) -> None:
        await self.end(CLOSE_SESSION_ENDED)

    async def access_changed(self, event: dict[str, Any]) -> None:
        """A status, password or device changed: re-check now rather than at the next tick."""
        await self.recheck()


class NotificationConsumer(AuthenticatedConsumer):
    """Delivers `notify.message` and `roles.changed` to the user's pages."""

    async def notify_message(self, event: dict[str, Any]) -> None:
        if self.open:
            await self.send_json(
                {
                    "type": "notify",
                    "kind": event.get("kind", ""),
                    "text": event.get("text", ""),
                    "url": event.get("url", ""),
                }
            )

    async def roles_changed(self, event: dict[str, Any]) -> None:
        if self.open:
            await self.send_json({"type": "roles.changed"})
            await self.recheck()
