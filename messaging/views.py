"""The rooms' pages: server-rendered shells; keys, plaintext and room names live only in the browser.

Each page is one template and one ES module (messaging/static/messaging/): the page gives the
module its words (data-* attributes, translated here) and the member's protocol id; the module does
the cryptography and talks to the JSON API (messaging/api.py). Who may open them: whoever the API
serves, i.e. messaging/permissions.py's access_room_list (any active, logged-in account).

The verification pages (e2ee.md §4.3) are shells too: the safety number is computed in the browser
from the key this browser holds or pinned, never from what the server would say it is. The server
decides only who may be looked up: people who share a room with the viewer.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership.types import AuthedHttpRequest
from messaging import permissions as perms
from messaging import selectors
from messaging.selectors import ur1_user_id


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
