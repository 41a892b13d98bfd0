"""The audit log page: local admins read their locals' records, platform staff all of them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from membership.audit_labels import describe_events
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
    # Codes and ids become words at display: the log itself keeps ids only (no personal data in
    # an append-only table), and a local admin should not have to read codes.
    rows = describe_events(page.object_list)
    return render(request, "membership/audit_log.html", {"page": page, "rows": rows})
