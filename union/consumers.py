"""Authenticated sockets: `AuthenticatedConsumer` for every socket of the project, and the notifications.

A socket outlives the HTTP request that authenticated it. Logging out on another device, an
officer ending someone's sessions, a deactivation, a lost role or a suspension all change what the
socket may do, and it must learn so within seconds. Asking the database on every frame did that,
but at one round trip per delivered event through Daphne's one database thread (p50 1.5 s for 250
clients). So the guarantee now rests on two legs:

- Pushed events, sent on commit to the user's group by every service that changes access:
  `session.end` closes at once; `roles.changed` and `access.changed` make the socket re-check at
  once, and close if the session or the rights it was opened with no longer hold.
- A re-check on a timer, every `TESSERA_WS_RECHECK_SECONDS` (5 by default) whatever the traffic,
  for when an event is lost (a Redis restart, a Daphne process that was busy). One timer per
  process checks all of its sockets in a few queries. Frames and events in between cost no
  database query: they trust the last check.

The re-check asks the database whether the stored session still logs the user in, as an HTTP
request would find it, then the hooks named in `TESSERA_SESSION_CHECKS` (the core names no feature
app; membership adds the officers' second factor and the user's roles and statuses), then the
subclass's own `access_states()`, asked once for all of the process's sockets of that class (a
room socket asks which rooms its user is still in). Each hook
answers None to refuse, or a summary of the rights the socket holds; when that summary changes the
socket closes with CLOSE_ACCESS_CHANGED and the page reconnects under its new rights.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Hashable
from functools import lru_cache
from importlib import import_module
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
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

# A hook takes [(user, session), ...] and answers, for each pair in order, None to refuse or a
# hashable summary of the rights it vouches for. It answers for many sockets in a fixed number of
# queries, so that one re-check of every socket of a process costs a handful of queries.
SessionCheck = Callable[[list[tuple[Any, SessionBase]]], list[Hashable | None]]
# Sockets checked per database call by the periodic re-check (keeps IN lists reasonable).
RECHECK_CHUNK = 500
# Session engines whose store is the django_session table, read here in one query for many keys.
DB_SESSION_ENGINES = frozenset({"django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"})


def recheck_seconds() -> float:
    """How stale a socket's view of its session may get when a revocation event is lost."""
    return float(getattr(settings, "TESSERA_WS_RECHECK_SECONDS", DEFAULT_RECHECK_SECONDS))


@lru_cache(maxsize=8)
def _import_hooks(paths: tuple[str, ...]) -> tuple[SessionCheck, ...]:
    return tuple(import_string(path) for path in paths)


def session_checks() -> tuple[SessionCheck, ...]:
    """The hooks named in settings, imported once per distinct list (tests change the setting)."""
    return _import_hooks(tuple(getattr(settings, "TESSERA_SESSION_CHECKS", ())))


def _load_sessions(keys: set[str]) -> dict[str, SessionBase]:
    """The stored, unexpired sessions with these keys (a missing key is absent from the result)."""
    engine = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE not in DB_SESSION_ENGINES:
        stores = {key: engine.SessionStore(key) for key in keys}
        return {key: store for key, store in stores.items() if store.get(SESSION_KEY)}
    # The table is the truth for cached_db too: a logout deletes the row and the cache entry.
    from django.contrib.sessions.models import Session

    found = {}
    for key, data in Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now()).values_list(
            "session_key", "session_data"):
        store = engine.SessionStore(key)
        store._session_cache = store.decode(data)
        found[key] = store
    return found


def check_sessions(items: list[tuple[str | None, int]]) -> list[tuple[Any, tuple[Hashable, ...]] | None]:
    """For each (session key, user id): the user and the hooks' rights, or None if refused.

    A session is refused unless its stored row still logs in that user, as an HTTP request would
    find it: the row exists (a logout deletes it), the user is active, and the session hash
    matches (ending all sessions changes the nonce mixed into it; so does a new password). Then
    each hook may refuse. The number of queries does not depend on the number of items.
    """
    sessions = _load_sessions({key for key, _user_id in items if key})
    users = get_user_model().objects.filter(pk__in={user_id for _key, user_id in items}, is_active=True).in_bulk()
    pairs: list[tuple[Any, SessionBase] | None] = []
    for key, user_id in items:
        session, user = sessions.get(key or ""), users.get(user_id)
        stored_hash = (session.get(HASH_SESSION_KEY) or "") if session is not None else ""
        if (session is None or user is None or not stored_hash
                or str(session.get(SESSION_KEY, "")) != str(user_id)
                or not any(constant_time_compare(stored_hash, candidate)
                           for candidate in [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()])):
            pairs.append(None)
            continue
        pairs.append((user, session))
    live = [pair for pair in pairs if pair is not None]
    verdicts = [check(live) for check in session_checks()]
    results: list[tuple[Any, tuple[Hashable, ...]] | None] = []
    position = 0
    for pair in pairs:
        if pair is None:
            results.append(None)
            continue
        states = tuple(verdict[position] for verdict in verdicts)
        position += 1
        results.append(None if any(state is None for state in states) else (pair[0], states))
    return results


def _rights_of(consumers: list[AuthenticatedConsumer], items: list[tuple[str | None, int]]) -> list[Any]:
    """Each consumer's rights now (None: refused), in one database visit. Runs in the database thread.

    The sockets' own rights are asked of each consumer class once for all of its sockets
    (`access_states`), so a process's re-check costs a fixed number of queries per kind of socket.
    """
    found = check_sessions(items)
    by_class: dict[type[AuthenticatedConsumer], list[tuple[int, AuthenticatedConsumer, Any]]] = {}
    for position, (consumer, session) in enumerate(zip(consumers, found, strict=True)):
        if session is not None:
            by_class.setdefault(type(consumer), []).append((position, consumer, session[0]))
    own: dict[int, Hashable | None] = {}
    for cls, sockets in by_class.items():
        states = cls.access_states([(consumer, user) for _position, consumer, user in sockets])
        own.update(zip([position for position, _consumer, _user in sockets], states, strict=True))
    return [None if session is None or own[position] is None else (*session[1], own[position])
            for position, session in enumerate(found)]


class _Watcher:
    """One timer per event loop (per Daphne process) re-checks every open socket each window.

    One timer rather than one per socket: a check of all of a process's sockets costs a handful
    of queries, where a check per socket cost five each, a hundred checks a second at 500 sockets.
    """

    def __init__(self) -> None:
        self.consumers: set[AuthenticatedConsumer] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, consumer: AuthenticatedConsumer) -> None:
        self.consumers.add(consumer)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self.run())

    def discard(self, consumer: AuthenticatedConsumer) -> None:
        self.consumers.discard(consumer)
        if not self.consumers and self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        while self.consumers:
            await asyncio.sleep(recheck_seconds())
            await self.check_all()

    async def check_all(self) -> None:
        batch = [consumer for consumer in self.consumers if consumer.open]
        for start in range(0, len(batch), RECHECK_CHUNK):
            chunk = [consumer for consumer in batch[start:start + RECHECK_CHUNK] if consumer.open]
            items = [(consumer.session_key, consumer.user_id or 0) for consumer in chunk]
            try:
                rights = await database_sync_to_async(_rights_of)(chunk, items)
            except Exception:  # noqa: BLE001 - sockets whose rights cannot be checked must not stay open
                logger.warning("Closing %d sockets whose sessions could not be re-checked.", len(chunk))
                for consumer in chunk:
                    await consumer.end(CLOSE_SERVER_ERROR)
                continue
            for consumer, now in zip(chunk, rights, strict=True):
                await consumer.apply(now)


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watcher] = weakref.WeakKeyDictionary()


def _watcher() -> _Watcher:
    loop = asyncio.get_running_loop()
    if loop not in _watchers:
        _watchers[loop] = _Watcher()
    return _watchers[loop]


class AuthenticatedConsumer(AsyncJsonWebsocketConsumer):
    """A socket of one logged-in user that closes when the session or the user's rights change.

    Subclasses add handlers for their events and may override `access_state()` (run in the
    database thread at connect and at every re-check) and `join()` / `leave()` for their groups.
    Handlers of events call nothing in the database: they trust the last check, which the
    process's timer and the pushed events keep at most `TESSERA_WS_RECHECK_SECONDS` old.
    """

    user_id: int | None = None
    session_key: str | None = None
    rights: tuple[Hashable, ...] | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its `aclose_old_connections()` before every handler.

        Channels (4.2 on) hops to a worker thread to close stale database connections before each
        event and frame: for a room of 250 sockets, 250 thread hops per message, which cost more
        than all the rest of the fan-out (bench/rooms.py). Here no handler touches the database
        except through `database_sync_to_async`, which closes old connections before and after
        each call itself, so the hop bought nothing.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def access_state(self, user: Any) -> Hashable | None:
        """Rights this socket needs beyond a valid session (None refuses). Runs in the database thread."""
        return True

    @classmethod
    def access_states(cls, sockets: list[tuple[Any, Any]]) -> list[Hashable | None]:
        """`access_state` for many (consumer, user) pairs of this class, in order, at once.

        The periodic re-check asks this once per consumer class for all of the process's sockets of
        that class. The default asks each socket in turn; a subclass whose check reads the database
        overrides it to answer for all of them in a fixed number of queries (RoomConsumer).
        """
        return [consumer.access_state(user) for consumer, user in sockets]

    async def _rights_now(self, session_key: str | None, user_id: int) -> Any:
        return (await database_sync_to_async(_rights_of)([self], [(session_key, user_id)]))[0]

    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        rights = None
        if user is not None and user.is_authenticated and session is not None:
            rights = await self._rights_now(session.session_key, user.pk)
        if rights is None or user is None or session is None:
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
        _watcher().add(self)

    async def join(self) -> None:
        """Join the subclass's own groups (the user's group is joined already)."""

    async def leave(self) -> None:
        """Leave the subclass's own groups."""

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        if self.user_id is not None:
            _watcher().discard(self)
            user_id, self.user_id = self.user_id, None
            await self.channel_layer.group_discard(user_group(user_id), self.channel_name)
            await self.leave()

    async def end(self, code: int) -> None:
        """Leave the groups first, so nothing queued behind this is delivered, then close."""
        if self.user_id is None:
            return
        await self._leave()
        await self.close(code=code)

    @property
    def open(self) -> bool:
        """Whether the socket still stands; handlers deliver only while it does."""
        return self.user_id is not None

    async def apply(self, rights: Any) -> bool:
        """Close if these freshly read rights refuse the session or differ from the socket's."""
        if self.user_id is None:  # closed meanwhile (a session.end overtook the check)
            return False
        if rights is None:
            await self.end(CLOSE_SESSION_ENDED)
            return False
        if rights != self.rights:
            await self.end(CLOSE_ACCESS_CHANGED)
            return False
        return True

    async def recheck(self) -> bool:
        """Ask the database now, for this socket alone; close and return False if anything changed."""
        if self.user_id is None:
            return False
        return await self.apply(await self._rights_now(self.session_key, self.user_id))

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
        """A logout, password or device changed: re-check now rather than at the next tick."""
        await self.recheck()

    async def roles_changed(self, event: dict[str, Any]) -> None:
        """A role or a member status changed: re-check now (a subclass may tell the page first)."""
        await self.recheck()

    async def notify_message(self, event: dict[str, Any]) -> None:
        """A notice for the user's group (union.realtime.notify_user) reaches every socket of the user.

        Only the notifications socket shows it; without this handler any other socket (a room, a
        campaign page) ended with "No handler for message type notify.message" on the first notice.
        """


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
            await super().roles_changed(event)
