"""Membership pages: the organizing dashboard of a local and support assessments (urls at the bottom)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from membership import charts
from membership.models import Local, Member, SupportAssessment, SupportLevel
from membership.permissions import access_assessable_member, access_local, can_assess_support
from membership.support import SupportError, support_assess
from membership.types import AuthedHttpRequest

PAGE_SIZE = 50


class AssessForm(forms.Form):
    level = forms.ModelChoiceField(queryset=SupportLevel.objects.none(), label=gettext_lazy("Support"))

    def __init__(self, *args: Any, local: Local, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["level"]).queryset = SupportLevel.objects.filter(union_id=local.union_id)


@never_cache
@login_required
@require_GET
def dashboard(request: AuthedHttpRequest, code: str) -> HttpResponse:
    local = access_local(request.user, code, codename="view_roll")
    progress = charts.unit_progress(local)
    weeks = charts.weekly_signatures(local)
    levels = list(SupportLevel.objects.filter(union_id=local.union_id))
    summary = charts.support_summary(local)
    context = {
        "local": local, "progress": progress, "closest": charts.closest_to_threshold(progress), "weeks": weeks,
        "progress_svg": charts.progress_svg(progress, title=_("Signed cards against threshold, per unit")),
        "weekly_svg": charts.weekly_svg(weeks, title=_("Cards signed per week")),
        "support_rows": [(level, summary.get(level.value, 0)) for level in levels],
        "can_assess": can_assess_support(request.user, local),
    }
    return render(request, "membership/dashboard/dashboard.html", context)


def _support_page(request: HttpRequest, local: Local, *, status: int = 200, form: AssessForm | None = None) -> HttpResponse:
    latest = SupportAssessment.objects.filter(member=OuterRef("pk")).order_by("-recorded_at", "-pk")
    members = (
        Member.objects.filter(local=local, erased_at__isnull=True)
        .exclude(status__in=[Member.Status.REJECTED])
        .select_related("unit__employer", "unit__client")
        .annotate(level_value=Subquery(latest.values("level__value")[:1]),
                  assessed_at=Subquery(latest.values("recorded_at")[:1]))
        .order_by("pseudonym", "pk")
    )
    unit_code = request.GET.get("unit") or ""
    if unit_code:
        members = members.filter(unit__code=unit_code) if _is_uuid(unit_code) else members.none()
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    levels = list(SupportLevel.objects.filter(union_id=local.union_id))
    context = {
        "local": local, "page": page, "levels": levels,
        "units": local.units.select_related("employer", "client").order_by("employer__name", "project", "pk"),
        "unit_code": unit_code, "can_assess": can_assess_support(request.user, local), "form": form,
    }
    return render(request, "membership/dashboard/support.html", context, status=status)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@never_cache
@login_required
@require_GET
def support(request: AuthedHttpRequest, code: str) -> HttpResponse:
    local = access_local(request.user, code, codename="view_roll")
    return _support_page(request, local)


@never_cache
@login_required
@require_POST
def assess(request: AuthedHttpRequest, code: str, member_code: str) -> HttpResponse:
    local, member = access_assessable_member(request.user, code, member_code)
    form = AssessForm(request.POST, local=local)
    if not form.is_valid():
        return _support_page(request, local, status=400, form=form)
    try:
        support_assess(actor=request.user, member=member, level=form.cleaned_data["level"])
    except SupportError as exc:
        messages.error(request, _(str(exc)))
        return redirect("membership:dash_support", code=local.code)
    messages.success(request, _("Support of %(pseudonym)s recorded.") % {"pseudonym": member.pseudonym})
    return redirect(_back_to_list(request, local))


def _back_to_list(request: HttpRequest, local: Local) -> str:
    """The same filtered page of the list the organizer came from; only that list, never elsewhere."""
    base = reverse("membership:dash_support", kwargs={"code": local.code})
    back = request.POST.get("back", "")
    return back if back.startswith(base + "?") and "//" not in back and "\\" not in back else base


urlpatterns: list[URLPattern] = [
    path("locals/<uuid:code>/dashboard/", dashboard, name="dash_local"),
    path("locals/<uuid:code>/support/", support, name="dash_support"),
    path("locals/<uuid:code>/support/<uuid:member_code>/", assess, name="dash_assess"),
]
