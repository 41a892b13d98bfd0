"""Grievance pages: intake, lists, the case page and its timeline (urls at the bottom).

Every case URL answers 404 to whoever may not see the case, whether it exists or not
(grievances/permissions.py); people who see it but may not work it get 403 on the write forms.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grievances.forms import CaseFilterForm, CorrectionForm, EventForm, IntakeForm, StewardIntakeForm
from grievances.models import Event, Grievance, Grievant
from grievances.permissions import (
    GRIEVANT,
    access_correctable_event,
    access_filing_member,
    access_grievance,
    access_own_draft,
    access_steward_local,
    can_edit_draft,
    can_file_for_members,
    can_file_own,
    can_see_event,
    can_work,
    is_grievance_officer,
)
from grievances.selectors import grievance_list_visible_to, my_cases, own_cases, working_stewards
from grievances.services import GrievanceError, event_add, event_correct, grievance_create, grievance_submit
from grievances.services import grievance_update_draft as update_draft
from membership.models import User
from membership.selectors import locals_where
from membership.types import AuthedHttpRequest

PAGE_SIZE = 50


def _pseudonym(user: Any) -> str:
    """What a case page calls a person: their pseudonym, never their login handle."""
    member = getattr(user, "member", None) if user is not None else None
    return member.pseudonym if member is not None else _("a union officer")


def _with_list_data(cases: QuerySet[Grievance]) -> QuerySet[Grievance]:
    grievants = Prefetch("grievant_set", queryset=Grievant.objects.select_related("member").order_by("pk"))
    return cases.select_related("category", "step", "unit", "local", "steward__member").prefetch_related(grievants)


def _render_list(request: HttpRequest, cases: QuerySet[Grievance], *, title: str, kind: str,
                 filters: CaseFilterForm | None = None) -> HttpResponse:
    page = Paginator(_with_list_data(cases), PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    # On the local's list, a case whose steward lost the right to work it is flagged for reassignment.
    working = working_stewards({case.local for case in page}) if kind == "local" else set()
    rows = [(case, case.deadline_state(today), [g.member.pseudonym for g in case.grievant_set.all()],
             kind == "local" and case.status == Grievance.Status.OPEN and case.steward_id is not None
             and (case.local_id, case.steward_id) not in working)
            for case in page]
    return render(request, "grievances/cases/list.html", {
        "rows": rows, "page": page, "title": title, "kind": kind, "filters": filters,
        "can_file_for": can_file_for_members(request.user),
        "can_file": can_file_own(request.user),
        "is_officer": kind == "local" or is_grievance_officer(request.user),
    })


@never_cache
@login_required
@require_GET
def case_list(request: AuthedHttpRequest) -> HttpResponse:
    """The cases of the locals where the user sees grievances; members go to their own cases."""
    officer_locals = locals_where(request.user, "view_grievances")
    if not officer_locals.exists():
        return redirect("grievances:case_own")
    filters = CaseFilterForm(request.GET or None, unions=officer_locals.values("union"), locals_=list(officer_locals))
    cases = filters.apply(grievance_list_visible_to(request.user))
    cases = cases.order_by(F("due_date").asc(nulls_last=True), "-created_at")
    return _render_list(request, cases, title=_("The local's cases"), kind="local", filters=filters)


@never_cache
@login_required
@require_GET
def case_mine(request: AuthedHttpRequest) -> HttpResponse:
    """The steward's open cases, next deadline first."""
    access_steward_local(request.user)
    return _render_list(request, my_cases(request.user), title=_("Cases I work on"), kind="mine")


@never_cache
@login_required
@require_GET
def case_own(request: AuthedHttpRequest) -> HttpResponse:
    """Cases where the user is a grievant, and the drafts they started."""
    return _render_list(request, own_cases(request.user), title=_("Your grievances"), kind="own")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: AuthedHttpRequest) -> HttpResponse:
    """A member files their own case; it stays a draft until they submit it."""
    member = access_filing_member(request.user)
    form = IntakeForm(request.POST or None, union=member.union)
    if request.method == "POST" and form.is_valid():
        grievance = grievance_create(actor=request.user, local=member.local, unit=member.unit,
                                     grievants=[member], **form.case_fields())
        messages.success(request, _("The draft is saved. Read it over, then submit it to the union."))
        return redirect("grievances:detail", code=grievance.code)
    return render(request, "grievances/cases/intake.html", {"form": form, "on_behalf": False},
                  status=400 if form.errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def case_new_for(request: AuthedHttpRequest) -> HttpResponse:
    """A steward files a case on behalf of one or several members of their local."""
    local = access_steward_local(request.user)
    form = StewardIntakeForm(request.POST or None, union=local.union, local=local)
    if request.method == "POST" and form.is_valid():
        grievants = form.cleaned_data["grievants"]
        try:
            grievance = grievance_create(actor=request.user, local=local, unit=grievants[0].unit,
                                         grievants=grievants, **form.case_fields())
        except GrievanceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The draft is saved. Submit it when it is ready."))
            return redirect("grievances:detail", code=grievance.code)
    return render(request, "grievances/cases/intake.html", {"form": form, "on_behalf": True},
                  status=400 if form.errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    grievance, level = access_own_draft(request.user, code)
    names = ["category", "title", "incident_date", "narrative", "remedy", "sensitive", "letter_may_name"]
    initial = {name: getattr(grievance, name) for name in names}
    if level == GRIEVANT:
        form: IntakeForm = IntakeForm(request.POST or None, union=grievance.union, initial=initial)
    else:
        initial |= {"contract_article": grievance.contract_article, "confidentiality": grievance.confidentiality}
        form = StewardIntakeForm(request.POST or None, union=grievance.union, local=grievance.local,
                                 with_grievants=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        update_draft(actor=request.user, grievance=grievance, **form.case_fields())
        messages.success(request, _("The draft is saved."))
        return redirect("grievances:detail", code=grievance.code)
    return render(request, "grievances/cases/intake.html", {"form": form, "grievance": grievance,
                                                            "on_behalf": level != GRIEVANT},
                  status=400 if form.errors else 200)


@never_cache
@login_required
@require_POST
def case_submit(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    grievance, _level = access_own_draft(request.user, code)
    try:
        grievance = grievance_submit(actor=request.user, grievance=grievance)
    except GrievanceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Case %(number)s is filed. The union will be in touch.")
                         % {"number": grievance.number})
    return redirect("grievances:detail", code=grievance.code)


def _timeline(grievance: Grievance, level: str) -> list[tuple[Event, list[Event]]]:
    """Visible entries in order, each with the corrections made to it.

    An assignment names the steward by account id; it is resolved here, in one query, to the
    pseudonym they have today (`event.steward_name`), so an erased steward is shown as erased.
    """
    events = [e for e in grievance.events.select_related("author__member") if can_see_event(level, e)]
    steward_ids = {e.data.get("steward_id") for e in events if e.kind == Event.Kind.ASSIGNMENT}
    stewards = {u.pk: u for u in User.objects.filter(pk__in=steward_ids - {None}).select_related("member")}
    for event in events:
        if event.kind == Event.Kind.ASSIGNMENT:
            event.steward_name = _pseudonym(stewards.get(event.data.get("steward_id")))  # type: ignore[attr-defined]
    corrections: dict[int, list[Event]] = {}
    for event in events:
        if event.corrects_id:
            corrections.setdefault(event.corrects_id, []).append(event)
    return [(e, corrections.get(e.pk, [])) for e in events if not e.corrects_id]


def _render_case(request: HttpRequest, grievance: Grievance, level: str, *, event_form: EventForm | None = None,
                 status: int = 200) -> HttpResponse:
    working = can_work(request.user, grievance)
    grievants = Grievant.objects.filter(grievance=grievance).select_related("member").order_by("pk")
    return render(request, "grievances/cases/detail.html", {
        "grievance": grievance, "level": level, "can_work": working,
        "is_filer_draft": can_edit_draft(request.user, grievance, level),
        "grievants": [g.member.pseudonym for g in grievants], "timeline": _timeline(grievance, level),
        "steward_name": _pseudonym(grievance.steward) if grievance.steward_id else "",
        "steward_gone": level == "officer" and grievance.status == Grievance.Status.OPEN
        and grievance.steward_id is not None
        and (grievance.local_id, grievance.steward_id) not in working_stewards([grievance.local]),
        "deadline": grievance.deadline_state(), "show": request.GET.get("show") == "1" or not grievance.sensitive,
        "event_form": event_form or (EventForm() if working else None),
    }, status=status)


@never_cache
@login_required
@require_GET
def detail(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    grievance, level = access_grievance(request.user, code)
    return _render_case(request, grievance, level)


@never_cache
@login_required
@require_POST
def case_event_add(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    grievance, level = access_grievance(request.user, code, for_write=True)
    form = EventForm(request.POST)
    if form.is_valid():
        try:
            event_add(actor=request.user, grievance=grievance, **form.cleaned_data)
        except GrievanceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The entry is added to the timeline."))
            return redirect(reverse("grievances:detail", kwargs={"code": grievance.code}) + "#timeline")
    return _render_case(request, grievance, level, event_form=form, status=400)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def case_event_correct(request: AuthedHttpRequest, code: Any, event: Any) -> HttpResponse:
    grievance, level = access_grievance(request.user, code, for_write=True)
    original = access_correctable_event(grievance, event)
    form = CorrectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        event_correct(actor=request.user, event=original, body=form.cleaned_data["body"])
        messages.success(request, _("The correction is added beside the original entry."))
        return redirect(reverse("grievances:detail", kwargs={"code": grievance.code}) + "#timeline")
    return render(request, "grievances/cases/correct.html", {"grievance": grievance, "event": original, "form": form},
                  status=400 if form.errors else 200)


urlpatterns: list[URLPattern] = [
    path("", case_list, name="case_list"),
    path("mine/", case_mine, name="case_mine"),
    path("own/", case_own, name="case_own"),
    path("new/", case_new, name="case_new"),
    path("new/for-member/", case_new_for, name="case_new_for"),
    path("<uuid:code>/", detail, name="detail"),
    path("<uuid:code>/edit/", case_edit, name="case_edit"),
    path("<uuid:code>/submit/", case_submit, name="case_submit"),
    path("<uuid:code>/events/", case_event_add, name="case_event_add"),
    path("<uuid:code>/events/<uuid:event>/correct/", case_event_correct, name="case_event_correct"),
]
