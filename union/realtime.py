"""Real-time delivery: events are sent to channel-layer groups only after the transaction commits."""

from __future__ import annotations

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
