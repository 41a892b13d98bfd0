"""What the rooms do when the roll changes elsewhere (connected in MessagingConfig.ready)."""

from __future__ import annotations

from typing import Any

from messaging.models import Room
from messaging.services import room_group
from union.realtime import broadcast_many_on_commit


def tell_rooms_of_roll_change(sender: Any, *, local_id: int, grievance_id: int | None = None, **kwargs: Any) -> None:
    """Someone's role, status or case changed: the local's rooms (or the case's room) may now list
    someone who should leave, or miss someone who should join. Their open pages are told once the
    change commits (`room.pending`); an admin's page then shows the rotation, a member's says who
    can perform it. The server changes no room's membership itself; the event carries nothing but
    the room's code, and a room no page has open costs one Redis PUBLISH.
    """
    rooms = Room.objects.filter(grievance_id=grievance_id) if grievance_id else Room.objects.filter(local_id=local_id)
    events = [(room_group(room), {"type": "room.pending", "room": str(room.code)}) for room in rooms.only("pk", "code")]
    if events:
        broadcast_many_on_commit(events)
