"""Real-time delivery: events are sent to channel-layer groups only after the transaction commits."""

from __future__ import annotations

import re
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    """The group every open socket of one user joins (notifications, session end)."""
    return f"user.{user_id}"


def broadcast_now(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def broadcast_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to `group` once the current transaction commits; never if it rolls back."""
    transaction.on_commit(lambda: broadcast_now(group, event))


# A notification's kind names what it is about, so the page can style or group it.
NOTIFY_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
NOTIFY_TEXT_MAX = 300
ERROR_NOTIFY_KIND = "A notification kind is a short lowercase token such as 'grievance.reply'."
ERROR_NOTIFY_TEXT = f"A notification text has 1 to {NOTIFY_TEXT_MAX} characters."
ERROR_NOTIFY_URL = "A notification links to a path on this site ('/...'), or to nothing."


def notify_user(user_id: int, *, kind: str, text: str, url: str = "") -> None:
    """Show a short notice on every open page of one user, once the current transaction commits.

    The text must never carry sensitive data: no member's name, email or phone, no grievance
    narrative, no message or document text, no ballot choice. It crosses Redis and the browser in
    clear, may sit in logs, and is read aloud by screen readers on a screen others may see. Say what
    happened ("A steward replied on your case") and link with `url` to the page that shows the rest
    behind its own access check. Translate the text into the recipient's language
    (`translation.override(user.language)`) before calling.
    """
    text = str(text)  # a lazy translation is resolved now, in the caller's language
    if not NOTIFY_KIND_PATTERN.match(kind):
        raise ValueError(ERROR_NOTIFY_KIND)
    if not text.strip() or len(text) > NOTIFY_TEXT_MAX:
        raise ValueError(ERROR_NOTIFY_TEXT)
    if url and (not url.startswith("/") or url.startswith("//") or "\\" in url):
        raise ValueError(ERROR_NOTIFY_URL)
    event = {"type": "notify.message", "kind": kind, "text": text, "url": url}
    broadcast_on_commit(user_group(user_id), event)
