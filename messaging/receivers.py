"""What the rooms do when the roll changes elsewhere (connected in MessagingConfig.ready)."""

from __future__ import annotations

from typing import Any

from messaging.services import rooms_tell_pending


def tell_rooms_of_roll_change(sender: Any, *, local_id: int, grievance_id: int | None = None, **kwargs: Any) -> None:
    """`union.signals.roll_changed`: someone's role, status or case changed (see `rooms_tell_pending`)."""
    rooms_tell_pending(local_id=local_id, grievance_id=grievance_id)
