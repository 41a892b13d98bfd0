"""The start page: what each person can do, local by local; and the time zone a person sees."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from membership.models import Member, RoleGrant, Union, User
from membership.permissions import local_perms
from membership.roles import MEMBER_STATUSES
from membership.time_zones import TimeZoneForm, user_set_time_zone


@never_cache
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"locals": []}
    user = request.user
    if user.is_authenticated:
        member = Member.objects.filter(user=user).select_related("union", "local").first()
        context["member"] = member
        # Filing is a member's right (active or lapsed, membership/roles.py): no link that would 404.
        context["can_file"] = member is not None and "file_grievance" in local_perms(user, member.local)
        # Rooms follow the roll: members in good standing are in their local's room (messaging/selectors.py).
        context["can_use_rooms"] = member is not None and member.erased_at is None and member.status in MEMBER_STATUSES
        for grant in RoleGrant.objects.filter(user=user).select_related("local", "local__union"):
            context["locals"].append({"grant": grant, "perms": local_perms(user, grant.local)})
        context["is_staff"] = user.is_staff
    else:
        # Only unions that chose to publish their join link: the others are found by their own link.
        context["unions"] = Union.objects.filter(publish_join_link=True).order_by("name")
    return render(request, "union/home.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def time_zone(request: HttpRequest) -> HttpResponse:
    """Choose the time zone dates and times are shown in (also offered on /me/edit/)."""
    user = cast(User, request.user)  # login_required
    form = TimeZoneForm(request.POST if request.method == "POST" else None, user=user)
    if request.method == "POST" and form.is_valid():
        user_set_time_zone(user=user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, _("Your time zone has been saved."))
        has_member = Member.objects.filter(user=user, erased_at__isnull=True).exists()
        return redirect("membership:me_home" if has_member else "account:home")
    return render(request, "membership/me/time_zone.html", {"form": form}, status=400 if form.errors else 200)


urlpatterns: list[URLPattern] = [
    path("me/time-zone/", time_zone, name="me_time_zone"),
]
