"""The notification socket: one per open page, fed by `union.realtime.notify_user`.

A socket outlives the HTTP request that authenticated it. Logging out on another device, an
officer ending someone's sessions, a deactivation or a password change all revoke the session in
the database, and the `session.end` event that tells the socket may be lost (a Redis restart, a
Daphne process that was busy). So every event and every client frame first asks the database
again whether the session is still the one the user logged in with; if not, the socket closes
before it delivers anything.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils.crypto import constant_time_compare
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from membership.selectors import needs_two_factor
from union.realtime import user_group

# Close codes the browser client acts on (static/js/notifications.js stops reconnecting on both).
CLOSE_SESSION_ENDED = 4001
CLOSE_UNAUTHORIZED = 4401
# Clients only ever send {"type": "ping"}; anything longer is not ours and is not parsed.
MAX_CLIENT_FRAME = 256


def _two_factor_verified(session: Any, user: Any) -> bool:
    """The same test django_otp's middleware applies to HTTP requests: a confirmed device of this user."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def session_is_valid(session_key: str | None, user_id: int) -> bool:
    """Whether the stored session still logs in `user_id`, as an HTTP request would find it.

    Reads the session store afresh (a logout deletes the row), the user (deleted or deactivated)
    and the session hash (`user_end_sessions` changes the nonce mixed into it). Officers must also
    have verified their second factor in this session, as `OfficerTwoFactorMiddleware` demands.
    """
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if str(session.get(SESSION_KEY, "")) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    stored_hash = session.get(HASH_SESSION_KEY) or ""
    if user is None or not stored_hash:
        return False
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(stored_hash, candidate) for candidate in hashes):
        return False
    return not needs_two_factor(user) or _two_factor_verified(session, user)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Delivers `notify.message` and `roles.changed` to the user's pages; closes on `session.end`."""

    user_id: int | None = None
    session_key: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        authenticated = user is not None and user.is_authenticated and session is not None
        if not authenticated or not await database_sync_to_async(session_is_valid)(session.session_key, user.pk):
            # Accept, then close with a code: a refused handshake reaches the browser as a bare
            # 1006, which a client cannot tell from a network failure and would retry for ever.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # Join before accepting: once the page sees the socket open, nothing sent to it is missed.
        self.user_id, self.session_key = user.pk, session.session_key
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self._leave()

    async def _leave(self) -> None:
        if self.user_id is not None:
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
            self.user_id = None

    async def _end(self, code: int) -> None:
        # Leave the group first, so nothing queued behind this event is delivered before the close.
        await self._leave()
        await self.close(code=code)

    async def _still_valid(self) -> bool:
        """True while the session holds; otherwise closes the socket and returns False."""
        if self.user_id is None:
            return False
        if await database_sync_to_async(session_is_valid)(self.session_key, self.user_id):
            return True
        await self._end(CLOSE_SESSION_ENDED)
        return False

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # The base class raises on binary frames and bad JSON, which would end the consumer with a
        # 1011; a client that sends rubbish is simply not answered.
        if text_data is None or len(text_data) > MAX_CLIENT_FRAME:
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            return
        if isinstance(content, dict) and content.get("type") == "ping" and await self._still_valid():
            await self.send_json({"type": "pong"})

    async def notify_message(self, event: dict[str, Any]) -> None:
        if await self._still_valid():
            await self.send_json(
                {
                    "type": "notify",
                    "kind": event.get("kind", ""),
                    "text": event.get("text", ""),
                    "url": event.get("url", ""),
                }
            )

    async def roles_changed(self, event: dict[str, Any]) -> None:
        if await self._still_valid():
            await self.send_json({"type": "roles.changed"})

    async def session_end(self, event: dict[str, Any]) -> None:
        await self._end(CLOSE_SESSION_ENDED)
