"""The start page: what each person can do, local by local."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership.models import Member, RoleGrant
from membership.permissions import local_perms


@never_cache
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"locals": []}
    user = request.user
    if user.is_authenticated:
        context["member"] = Member.objects.filter(user=user).select_related("union", "local").first()
        for grant in RoleGrant.objects.filter(user=user).select_related("local", "local__union"):
            context["locals"].append({"grant": grant, "perms": local_perms(user, grant.local)})
        context["is_staff"] = user.is_staff
    return render(request, "union/home.html", context)
