"""The rooms' pages: server-rendered shells; keys, plaintext and room names live only in the browser.

Each page is one template and one ES module (messaging/static/messaging/): the page gives the
module its words (data-* attributes, translated here) and the member's protocol id; the module does
the cryptography and talks to the JSON API (messaging/api.py). Who may open them: whoever the API
serves, i.e. messaging/permissions.py's access_room_list (any active, logged-in account).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership.types import AuthedHttpRequest
from messaging import permissions as perms
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
