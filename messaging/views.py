"""The rooms' pages: server-rendered shells; keys, plaintext and room names live only in the browser.

Each page is one template and one ES module (messaging/static/messaging/): the page gives the
module its words (data-* attributes, translated here) and the member's protocol id; the module does
the cryptography and talks to the JSON API (messaging/api.py). Who may open them: whoever the API
serves, i.e. messaging/permissions.py's access_room_list (any active, logged-in account).

The verification pages (e2ee.md §4.3) are shells too: the safety number is computed in the browser
from the key this browser holds or pinned, never from what the server would say it is. The server
decides only who may be looked up: people who share a room with the viewer.

The rooms list (`/rooms/`) works without JavaScript: labels come from the union's structure (the
local, the unit, the case number), which the server knows anyway, and unread counts from the read
markers; it stays light (no key is used there, so no ur1.js). The chat page (`/rooms/<code>/`) is a
shell for chat.js: the server hands it public metadata only (who is in the room, who may rotate it,
what the roll wants changed) and every string the script shows, translated, in a JSON block.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership.models import User
from membership.types import AuthedHttpRequest
from messaging import permissions as perms
from messaging import selectors
from messaging.models import Room, RoomMember
from messaging.selectors import ur1_user_id
from messaging.texts import chat_texts


def _page(request: AuthedHttpRequest, template: str) -> HttpResponse:
    user = perms.access_room_list(request.user)
    return render(request, template, {"ure2e_user": ur1_user_id(user)})


@never_cache
@login_required
@require_GET
def keys_setup(request: AuthedHttpRequest) -> HttpResponse:
    """First use: make this member's keys, show the recovery key once, store the encrypted backup."""
    return _page(request, "messaging/keys_setup.html")


@never_cache
@login_required
@require_GET
def keys_restore(request: AuthedHttpRequest) -> HttpResponse:
    """A new device: the recovery key opens the backup, and the member's key certifies this device."""
    return _page(request, "messaging/keys_restore.html")


@never_cache
@login_required
@require_GET
def devices(request: AuthedHttpRequest) -> HttpResponse:
    """The member's devices from their signed device list; revoke one; lock or wipe this one."""
    return _page(request, "messaging/devices.html")


@never_cache
@login_required
@require_GET
def safety_number(request: AuthedHttpRequest) -> HttpResponse:
    """Your own 60 digits and QR code, for coworkers to check against what their browsers pinned."""
    user = perms.access_room_list(request.user)
    return render(request, "messaging/safety_number.html", {"user_id": ur1_user_id(user), "ure2e_user": ur1_user_id(user)})


@never_cache
@login_required
@require_GET
def verify(request: AuthedHttpRequest) -> HttpResponse:
    """Everyone who shares a room with you, each with this browser's trust in their key, and a scanner."""
    user = perms.access_room_list(request.user)
    people = selectors.coworkers_of(user)
    return render(request, "messaging/verify.html", {"people": people, "user_id": ur1_user_id(user),
                                                     "ure2e_user": ur1_user_id(user)})


@never_cache
@login_required
@require_GET
def verify_person(request: AuthedHttpRequest, user_id: str) -> HttpResponse:
    """Verify one coworker in person: scan their code or compare their 60 digits. 404 unless you
    share a room with them; your own id leads to your safety number."""
    other = perms.access_person(request.user, user_id)
    if other.pk == request.user.pk:
        return redirect("messaging:safety_number")
    context = {"person_id": ur1_user_id(other), "name": selectors.coworker_name(request.user, other),
               "user_id": ur1_user_id(request.user), "ure2e_user": ur1_user_id(request.user)}
    return render(request, "messaging/verify_person.html", context)


def _structure_label(kind: str, local: Any, unit: Any) -> str | None:
    """The words a local's or a unit's room goes by, on the list, the chat page and the offers."""
    if kind == Room.Kind.LOCAL:
        return _("%(local)s: the whole local") % {"local": local.name}
    if kind == Room.Kind.UNIT:
        return _("Bargaining unit: %(unit)s") % {"unit": unit}
    return None


def room_label(room: Room) -> str:
    """A room's name as the union's structure gives it; a typed name would be sealed under K_m."""
    label = _structure_label(room.kind, room.local, room.unit)
    if label is not None:
        return label
    if room.kind == Room.Kind.GRIEVANCE:
        number = room.grievance.number if room.grievance else None
        return _("Grievance %(number)s") % {"number": number} if number else _("Grievance (not numbered yet)")
    # Committees are told apart by when they were opened (their names are sealed), in the reader's
    # time zone and date format, never by a code.
    opened = formats.date_format(timezone.localtime(room.created_at), "SHORT_DATETIME_FORMAT")
    return _("Committee of %(local)s, opened %(opened)s") % {"local": room.local.name, "opened": opened}


@never_cache
@login_required
@require_GET
def room_list(request: AuthedHttpRequest) -> HttpResponse:
    user = perms.access_room_list(request.user)
    entries = selectors.room_list_for(user)
    rooms = [e["room"] for e in entries]
    may_start = perms.rooms_user_may_start(user, rooms)
    admin_names = selectors.room_admin_names(rooms)
    listed = [{"room": e["room"], "label": room_label(e["room"]), "joined": e["joined"], "unread": e["unread"],
               "admins": [name or _("an admin") for name in admin_names.get(e["room"].pk, [])],
               "may_start": e["room"].pk in may_start} for e in entries]
    to_open = [{**o, "label": _open_label(o)} for o in selectors.rooms_to_open_for(user)]
    return render(request, "messaging/room_list.html", {"rooms": listed, "to_open": to_open,
                                                        "ure2e_user": ur1_user_id(user)})


def _open_label(option: dict[str, Any]) -> str:
    label = _structure_label(option["kind"], option.get("local"), option.get("unit"))
    if label is not None:
        return label
    if option["kind"] == Room.Kind.GRIEVANCE:
        return _("Grievance %(number)s: its grievants and you") % {"number": option["grievance"].number}
    return _("A new committee of %(local)s") % {"local": option["local"].name}


@never_cache
@login_required
@require_GET
def room_chat(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    user = request.user
    room = perms.access_room(user, code)
    room = Room.objects.select_related("local", "unit__employer", "unit__client", "grievance").get(pk=room.pk)
    members = list(room.members.select_related("user"))
    changes = selectors.pending_changes(room)
    # Names of the people the reader shares or shared the room with (every sender is in a commit),
    # not of the whole roll: a local's room can be large, and people waiting to be added are a number.
    names = selectors.room_names_for(user, room)
    people = {ur1_user_id(person): names[person.pk] for person in User.objects.filter(pk__in=names).only("code")}
    admins = sorted(names.get(m.user_id, _("an admin")) for m in members if m.role == RoomMember.Role.ADMIN)
    context = {
        "room": room, "label": room_label(room), "admins": admins, "ure2e_user": ur1_user_id(user),
        "may_start": perms.can_start_room(user, room),
        "pending_add": len(changes["add"]), "pending_remove": len(changes["remove"]),
        "pending_devices": len(changes["devices"]), "rotation_due": selectors.rotation_due(room),
        "page_data": {"code": str(room.code), "roomId": room.room_id, "me": ur1_user_id(user),
                      "people": people,
                      "texts": chat_texts()},
    }
    return render(request, "messaging/room_chat.html", context)
