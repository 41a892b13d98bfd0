"""The audit log page: local admins read their locals' records, platform staff all of them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership.models import User
from membership.permissions import can_view_audit
from membership.selectors import audit_events_visible_to


@never_cache
@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    if not can_view_audit(request.user):
        raise Http404
    events = audit_events_visible_to(request.user).order_by("-seq")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    handles = dict(User.objects.filter(pk__in={e.actor_id for e in page.object_list if e.actor_id})
                   .values_list("pk", "handle"))
    for event in page.object_list:
        event.actor_handle = handles.get(event.actor_id, event.actor_label)
    return render(request, "membership/audit_log.html", {"page": page})
