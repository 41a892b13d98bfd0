"""Real-time delivery: events are sent to channel-layer groups only after the transaction commits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The group every open socket of one user joins (notifications, session end)."""
    return f"user.{user_id}"


_deferred = threading.local()


@contextlib.contextmanager
def deferred_broadcasts() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Collect what `broadcast_now` would send from this thread, for the caller to send itself.

    A consumer's database call runs in the process's one database thread; sending from there
    means waiting for the event loop (async_to_sync), which is busy relaying to hundreds of
    sockets exactly when a room is busy, and every other socket's database call waits behind it.
    The consumer sends what was collected from the loop instead, once the call has returned.
    """
    queued: list[tuple[str, dict[str, Any]]] = []
    outer = getattr(_deferred, "queue", None)
    _deferred.queue = queued
    try:
        yield queued
    finally:
        _deferred.queue = outer


async def send_deferred(events: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Send what `deferred_broadcasts` collected, from the event loop, one event after another.

    The change that made them is committed already, so a failed send (Redis restarting) is logged
    as a warning and the next event is still tried: raising would fail the socket whose write
    succeeded. Whoever missed an event catches up another way (room messages by sequence number).
    """
    layer = get_channel_layer()
    if layer is None:
        return
    for group, event in events:
        try:
            await layer.group_send(group, event)
        except Exception:  # noqa: BLE001 - stored already: the others catch up by number
            logger.warning("An event was committed but could not be sent to its group.", exc_info=True)


def broadcast_now(group: str, event: dict[str, Any]) -> None:
    queued = getattr(_deferred, "queue", None)
    if queued is not None:
        queued.append((group, event))
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def broadcast_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to `group` once the current transaction commits; never if it rolls back.

    A failed send (Redis restarting) is logged, not raised: the change is committed already, and
    failing the request or the socket that made it would only make its client repeat a write that
    succeeded. What a lost event would have told is found another way: room messages by sequence
    number over HTTP, access changes by the sockets' periodic re-check.
    """
    transaction.on_commit(lambda: broadcast_now(group, event), robust=True)


def recheck_sockets_on_commit(user_id: int) -> None:
    """Make every open socket of the user re-check its session and rights once the transaction commits.

    For changes that end some sessions but not all (a logout here, a new password) or that change
    rights (a status): each socket asks the database and closes if it no longer holds.
    """
    broadcast_on_commit(user_group(user_id), {"type": "access.changed"})


def broadcast_many_now(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, event) at once, all in one event loop.

    One `async_to_sync` per message would start and tear down an event loop (and a thread hop) for
    each; here one loop runs every `group_send` concurrently. Every send is attempted; the first
    error, if any, is raised afterwards.
    """
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> list[BaseException | None]:
        return await asyncio.gather(*(layer.group_send(group, event) for group, event in messages),
                                    return_exceptions=True)

    for outcome in async_to_sync(send_all)():
        if isinstance(outcome, BaseException):
            raise outcome


def broadcast_many_on_commit(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """`broadcast_many_now` once the current transaction commits; never if it rolls back."""
    messages = list(messages)
    transaction.on_commit(lambda: broadcast_many_now(messages), robust=True)  # as broadcast_on_commit


# A notification's kind names what it is about, so the page can style or group it.
NOTIFY_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
NOTIFY_TEXT_MAX = 300
ERROR_NOTIFY_KIND = "A notification kind is a short lowercase token such as 'grievance.reply'."
ERROR_NOTIFY_TEXT = f"A notification text has 1 to {NOTIFY_TEXT_MAX} characters."
ERROR_NOTIFY_URL = "A notification links to a path on this site ('/...'), or to nothing."


def _notice(kind: str, text: Any, url: str) -> dict[str, Any]:
    text = str(text)  # a lazy translation is resolved now, in the caller's language
    if not NOTIFY_KIND_PATTERN.match(kind):
        raise ValueError(ERROR_NOTIFY_KIND)
    if not text.strip() or len(text) > NOTIFY_TEXT_MAX:
        raise ValueError(ERROR_NOTIFY_TEXT)
    if url and (not url.startswith("/") or url.startswith("//") or "\\" in url):
        raise ValueError(ERROR_NOTIFY_URL)
    return {"type": "notify.message", "kind": kind, "text": text, "url": url}


def notify_user(user_id: int, *, kind: str, text: str, url: str = "") -> None:
    """Show a short notice on every open page of one user, once the current transaction commits.

    The text must never carry sensitive data: no member's name, email or phone, no grievance
    narrative, no message or document text, no ballot choice. It crosses Redis and the browser in
    clear, may sit in logs, and is read aloud by screen readers on a screen others may see. Say what
    happened ("A steward replied on your case") and link with `url` to the page that shows the rest
    behind its own access check. Translate the text into the recipient's language
    (`translation.override(user.language)`) before calling.
    """
    broadcast_on_commit(user_group(user_id), _notice(kind, text, url))


def notify_users(user_ids: Iterable[int], *, kind: str, text: str | Mapping[int, str], url: str = "") -> None:
    """`notify_user` for many users, sent together in one event loop once the transaction commits.

    `text` is one text for everyone, or a mapping from each user id to that user's text (each in
    its reader's language). The rules on what a text may say are `notify_user`'s. Every notice is
    checked before anything is queued, so a bad one sends none.
    """
    messages = []
    for user_id in dict.fromkeys(user_ids):  # once per user, in the given order
        own = text[user_id] if isinstance(text, Mapping) else text
        messages.append((user_group(user_id), _notice(kind, own, url)))
    broadcast_many_on_commit(messages)
