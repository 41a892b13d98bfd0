"""Grievance pages: the dashboard of a local and its CSV export (urls at the bottom).

For officers holding `view_grievances` on the local; everyone else gets 404. Figures count only
the cases the viewer may open (restricted cases for the assigned steward and local admins).
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from grievances import charts
from grievances.models import Category, Grievance
from grievances.services import grievance_export_record
from membership.models import BargainingUnit, Local
from membership.permissions import access_local
from membership.types import AuthedHttpRequest
from union.csv import CsvResponse

ERR_DATES = gettext_lazy("The first date must not be after the last.")


class CategoryNameChoiceField(forms.ModelChoiceField):
    """Names are stored in English and translated when shown (grievances/defaults.py)."""

    def label_from_instance(self, obj: Category) -> str:
        return _(obj.name)


class DashboardFilterForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=BargainingUnit.objects.none(), to_field_name="code", required=False,
                                  label=gettext_lazy("Unit"), empty_label=gettext_lazy("All units"))
    category = CategoryNameChoiceField(queryset=Category.objects.none(), to_field_name="slug", required=False,
                                       label=gettext_lazy("Category"), empty_label=gettext_lazy("All categories"))
    status = forms.ChoiceField(required=False, label=gettext_lazy("Status"), choices=[
        ("", gettext_lazy("Open and closed")), (Grievance.Status.OPEN, gettext_lazy("Open")),
        (Grievance.Status.CLOSED, gettext_lazy("Closed"))])
    opened_from = forms.DateField(required=False, label=gettext_lazy("Opened from"),
                                  widget=forms.DateInput(attrs={"type": "date"}))
    opened_to = forms.DateField(required=False, label=gettext_lazy("Opened until"),
                                widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, local: Local, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["unit"]).queryset = local.units.select_related("employer", "client").order_by("employer__name", "pk")
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = Category.objects.filter(union_id=local.union_id)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("opened_from") and data.get("opened_to") and data["opened_from"] > data["opened_to"]:
            raise forms.ValidationError(ERR_DATES)
        return data


def _filters(request: HttpRequest, local: Local) -> tuple[DashboardFilterForm, dict[str, Any] | None]:
    form = DashboardFilterForm(request.GET, local=local)
    return form, (form.cleaned_data if form.is_valid() else None)


@never_cache
@login_required
@require_GET
def dashboard(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    local = access_local(request.user, code, codename="view_grievances")
    form, filters = _filters(request, local)
    context: dict[str, Any] = {"local": local, "form": form, "query": request.GET.urlencode()}
    if filters is None:
        return render(request, "grievances/dashboard/dashboard.html", context, status=400)
    qs, today = charts.cases_for(request.user, local, filters), timezone.localdate()
    steps, categories, employers = charts.by_step(qs), charts.by_category(qs), charts.by_employer(qs)
    deadlines = charts.deadlines(qs, charts.due_soon_limits(local, today), today)
    months = charts.per_month(qs, today)
    deadline_bars = [charts.Bar(_("Overdue"), deadlines["overdue"]), charts.Bar(_("Due soon"), deadlines["due_soon"]),
                     charts.Bar(_("On time"), deadlines["ok"])]
    context.update({
        "steps": steps, "categories": categories, "employers": employers, "deadlines": deadline_bars,
        "months": months, "total": sum(b.count for b in categories),
        "steps_svg": charts.bars_svg(steps, title=_("Open cases by step")),
        "deadlines_svg": charts.bars_svg(deadline_bars, title=_("Deadlines of open cases")),
        "categories_svg": charts.bars_svg(categories, title=_("Cases by category")),
        "employers_svg": charts.bars_svg(employers, title=_("Cases by employer")),
        "months_svg": charts.months_svg(months, title=_("Cases opened per month")),
    })
    return render(request, "grievances/dashboard/dashboard.html", context)


@never_cache
@login_required
@require_GET
def export(request: AuthedHttpRequest, code: UUID) -> HttpResponse | CsvResponse:
    local = access_local(request.user, code, codename="view_grievances")
    form, filters = _filters(request, local)
    if filters is None:
        return render(request, "grievances/dashboard/dashboard.html", {"local": local, "form": form}, status=400)
    qs, today = charts.cases_for(request.user, local, filters), timezone.localdate()
    grievance_export_record(actor=request.user, local=local, rows=qs.count())
    # An async iterator under Daphne: the first rows leave while the rest are still being read.
    return CsvResponse(charts.COLUMNS, lambda: charts.export_rows(qs, today),
                       filename=f"grievances-{local.slug}-{today.isoformat()}.csv")


urlpatterns: list[URLPattern] = [
    path("locals/<uuid:code>/dashboard/", dashboard, name="dash_local"),
    path("locals/<uuid:code>/dashboard/export.csv", export, name="dash_export"),
]
