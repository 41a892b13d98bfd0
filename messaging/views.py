"""The rooms' pages: server-rendered shells; keys, plaintext and room names live only in the browser.

The verification pages (e2ee.md §4.3) are shells too: the safety number is computed in the browser
from the key this browser holds or pinned, never from what the server would say it is. The server
decides only who may be looked up: people who share a room with the viewer.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from messaging import permissions as perms
from messaging import selectors


@never_cache
@login_required
@require_GET
def safety_number(request: HttpRequest) -> HttpResponse:
    """Your own 60 digits and QR code, for coworkers to check against what their browsers pinned."""
    return render(request, "messaging/safety_number.html", {"user_id": selectors.ur1_user_id(request.user)})


@never_cache
@login_required
@require_GET
def verify(request: HttpRequest) -> HttpResponse:
    """Everyone who shares a room with you, each with this browser's trust in their key, and a scanner."""
    people = selectors.coworkers_of(request.user)
    return render(request, "messaging/verify.html", {"people": people, "user_id": selectors.ur1_user_id(request.user)})


@never_cache
@login_required
@require_GET
def verify_person(request: HttpRequest, user_id: str) -> HttpResponse:
    """Verify one coworker in person: scan their code or compare their 60 digits. 404 unless you
    share a room with them; your own id leads to your safety number."""
    other = perms.access_person(request.user, user_id)
    if other.pk == request.user.pk:
        return redirect("messaging:safety_number")
    context = {"person_id": selectors.ur1_user_id(other), "name": selectors.coworker_name(request.user, other),
               "user_id": selectors.ur1_user_id(request.user)}
    return render(request, "messaging/verify_person.html", context)
