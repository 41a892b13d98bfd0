"""Membership pages: the roll, member pages, verification, CSV import and export (urls at the bottom).

Every page is for officers of one local: anyone without view_roll on it gets 404; an officer who
sees the roll but lacks the permission for an action gets 403. All pages are @never_cache.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from membership import roll, services
from membership.forms_roll import (
    DuesForm,
    ImportCommitForm,
    ImportUploadForm,
    NotesForm,
    RejectForm,
    RoleForm,
    RollFilterForm,
    StatusForm,
    UnitForm,
)
from membership.models import Local, Member
from membership.permissions import (
    access_role_change,
    access_roll_local,
    access_roll_member,
    grantable_roles,
)
from membership.permissions import has_local_perm as _has
from membership.roles import Role
from membership.types import AuthedHttpRequest
from union.csv import CsvResponse


def _filters(request: HttpRequest, local: Local) -> tuple[RollFilterForm, dict[str, Any]]:
    form = RollFilterForm(request.GET or None, local=local)
    return form, (form.cleaned_data if form.is_bound and form.is_valid() else {})


def _query_without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    return query.urlencode()


@never_cache
@login_required
@require_GET
def roll_list(request: AuthedHttpRequest, local_code: UUID) -> HttpResponse:
    local = access_roll_local(request.user, local_code)
    form, filters = _filters(request, local)
    page = roll.keyset_page(roll.roll_queryset(local, filters), after=request.GET.get("after", ""),
                            before=request.GET.get("before", ""))
    return render(request, "membership/roll/list.html", {
        "local": local, "form": form, "page": page, "query": _query_without_cursor(request),
        "can_manage": _has(request.user, "manage_members", local),
        "can_verify": _has(request.user, "verify_members", local),
    })


@never_cache
@login_required
@require_GET
def roll_pending(request: AuthedHttpRequest, local_code: UUID) -> HttpResponse:
    local = access_roll_local(request.user, local_code, need="verify_members")
    qs = roll.roll_queryset(local, {"status": Member.Status.PENDING})
    page = roll.keyset_page(qs, after=request.GET.get("after", ""), before=request.GET.get("before", ""))
    return render(request, "membership/roll/pending.html", {
        "local": local, "page": page, "reject_form": RejectForm(), "query": "",
    })


def _member_page(request: AuthedHttpRequest, member: Member, *, status_form: StatusForm | None = None,
                 dues_form: DuesForm | None = None, unit_form: UnitForm | None = None,
                 role_form: RoleForm | None = None, notes_form: NotesForm | None = None,
                 status: int = 200) -> HttpResponse:
    local = member.local
    services.member_record_view(actor=request.user, member=member)
    member = roll.with_role(Member.objects.filter(pk=member.pk)).select_related(
        "local", "unit__employer", "unit__client").get()
    choices = grantable_roles(request.user, member)
    return render(request, "membership/roll/member.html", {
        "role_label": Role(member.role).label if member.role else "",
        "notes_form": notes_form or NotesForm(initial={"notes": member.notes}),
        "unit_form": unit_form or UnitForm(local=local, initial={"unit": member.unit_id}),
        "role_form": role_form or (RoleForm(choices=choices, initial={"role": member.role}) if choices else None),
        "member": member, "local": local,
        "history": member.unit_history.select_related("unit__employer", "unit__client")[:20],
        # Reasons are decrypted for officers only, on this page whose viewing is audited.
        "status_changes": member.status_changes.select_related("changed_by__member")[:20],
        "can_manage": _has(request.user, "manage_members", local),
        "can_verify": _has(request.user, "verify_members", local) and member.status == Member.Status.PENDING,
        "status_form": status_form or StatusForm(),
        "dues_form": dues_form or DuesForm(initial={"dues": member.dues, "last_paid": member.dues_last_paid}),
        "reject_form": RejectForm(),
    }, status=status)


@never_cache
@login_required
@require_GET
def roll_member(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    return _member_page(request, access_roll_member(request.user, member_code))


@never_cache
@login_required
@require_POST
def roll_member_status(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member = access_roll_member(request.user, member_code, need="manage_members")
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.member_set_status(actor=request.user, member=member, new=form.cleaned_data["status"],
                                       reason=form.cleaned_data["reason"])
        except services.MembershipError as error:
            form.add_error("status", str(error))
        else:
            messages.success(request, _("The status was changed."))
            return redirect("membership:roll_member", member_code=member.code)
    return _member_page(request, member, status_form=form, status=400)


@never_cache
@login_required
@require_POST
def roll_member_notes(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member = access_roll_member(request.user, member_code, need="manage_members")
    form = NotesForm(request.POST)
    if not form.is_valid():
        return _member_page(request, member, notes_form=form, status=400)
    services.member_set_notes(actor=request.user, member=member, notes=form.cleaned_data["notes"])
    messages.success(request, _("The notes were saved."))
    return redirect("membership:roll_member", member_code=member.code)


@never_cache
@login_required
@require_POST
def roll_member_unit(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member = access_roll_member(request.user, member_code, need="manage_members")
    form = UnitForm(request.POST, local=member.local)
    if not form.is_valid():
        return _member_page(request, member, unit_form=form, status=400)
    services.member_change_unit(actor=request.user, member=member, unit=form.cleaned_data["unit"])
    messages.success(request, _("The workplace was changed; the earlier one stays in the history."))
    return redirect("membership:roll_member", member_code=member.code)


@never_cache
@login_required
@require_POST
def roll_member_role(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member, choices = access_role_change(request.user, member_code)
    if member.user is None:  # never: a member without an account is offered no role
        raise PermissionDenied
    form = RoleForm(request.POST, choices=choices)
    if not form.is_valid():
        return _member_page(request, member, role_form=form, status=400)
    services.role_grant(actor=request.user, user=member.user, local=member.local, role=form.cleaned_data["role"])
    messages.success(request, _("The role was changed. It takes effect on their next page."))
    return redirect("membership:roll_member", member_code=member.code)


@never_cache
@login_required
@require_POST
def roll_member_dues(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member = access_roll_member(request.user, member_code, need="manage_members")
    form = DuesForm(request.POST)
    if not form.is_valid():
        return _member_page(request, member, dues_form=form, status=400)
    services.member_set_dues(actor=request.user, member=member, dues=form.cleaned_data["dues"],
                             last_paid=form.cleaned_data["last_paid"])
    messages.success(request, _("The dues standing was recorded."))
    return redirect("membership:roll_member", member_code=member.code)


@never_cache
@login_required
@require_POST
def roll_verify(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member = access_roll_member(request.user, member_code, need="verify_members")
    try:
        services.member_verify(actor=request.user, member=member)
    except services.MembershipError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("%(name)s is now an active member.") % {"name": member.pseudonym})
    return redirect("membership:roll_pending", local_code=member.local.code)


@never_cache
@login_required
@require_POST
def roll_reject(request: AuthedHttpRequest, member_code: UUID) -> HttpResponse:
    member = access_roll_member(request.user, member_code, need="verify_members")
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason (it is kept encrypted with the member's record)."))
        return redirect("membership:roll_pending", local_code=member.local.code)
    try:
        services.member_reject(actor=request.user, member=member, reason=form.cleaned_data["reason"])
    except services.MembershipError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The application of %(name)s was rejected.") % {"name": member.pseudonym})
    return redirect("membership:roll_pending", local_code=member.local.code)


@never_cache
@login_required
@require_GET
def roll_export(request: AuthedHttpRequest, local_code: UUID) -> CsvResponse:
    local = access_roll_local(request.user, local_code, need="manage_members")
    _form, filters = _filters(request, local)
    qs = roll.roll_queryset(local, filters)
    alert_rows = settings.TESSERA_EXPORT_ALERT_ROWS
    services.roll_export_record(actor=request.user, local=local, rows=qs.count(), alert_rows=alert_rows)
    # An async iterator under Daphne: the first rows leave while the rest are still being read.
    return CsvResponse(roll.COLUMNS, lambda: roll.export_rows(qs),
                       filename=f"roll-{local.slug}-{timezone.localdate().isoformat()}.csv")


def _import_page(request: HttpRequest, local: Local, **context: Any) -> HttpResponse:
    status = context.pop("status", 200)
    context.setdefault("form", ImportUploadForm())
    units = local.units.select_related("employer", "client")
    return render(request, "membership/roll/import.html", {"local": local, "units": units, **context}, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def roll_import(request: AuthedHttpRequest, local_code: UUID) -> HttpResponse:
    local = access_roll_local(request.user, local_code, need="manage_members")
    if request.method == "GET":
        return _import_page(request, local)
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, local, form=form, status=400)
    try:
        text = roll.decode_upload(form.cleaned_data["file"].read(roll.IMPORT_MAX_BYTES + 1))
        preview = roll.parse_csv(text, local)
    except roll.ImportFileError as error:
        form.add_error("file", str(error))
        return _import_page(request, local, form=form, status=400)
    token = roll.stash_upload(request.session, local, text)
    commit = ImportCommitForm(initial={"token": token})
    return _import_page(request, local, preview=preview, commit_form=commit)


@never_cache
@login_required
@require_POST
def roll_import_commit(request: AuthedHttpRequest, local_code: UUID) -> HttpResponse:
    local = access_roll_local(request.user, local_code, need="manage_members")
    form = ImportCommitForm(request.POST)
    text = roll.unstash_upload(request.session, local, request.POST.get("token", "")) if form.is_valid() else None
    if text is None:
        messages.error(request, _("This preview has expired. Upload the file again."))
        return redirect("membership:roll_import", local_code=local.code)
    # Checked again: someone may have joined with one of these addresses since the preview.
    preview = roll.parse_csv(text, local)
    try:
        created = services.roll_import(actor=request.user, local=local, rows=preview.rows,
                                       valid_only=form.cleaned_data["valid_only"])
    except services.MembershipError as error:
        return _import_page(request, local, preview=preview, commit_form=form, error=str(error),
                            status=400)
    roll.drop_upload(request.session)
    messages.success(request, ngettext("%(n)s member was added to the roll.", "%(n)s members were added to the roll.",
                                       len(created)) % {"n": len(created)})
    return redirect("membership:roll_list", local_code=local.code)


urlpatterns: list[URLPattern] = [
    path("roll/<uuid:local_code>/", roll_list, name="roll_list"),
    path("roll/<uuid:local_code>/pending/", roll_pending, name="roll_pending"),
    path("roll/<uuid:local_code>/export.csv", roll_export, name="roll_export"),
    path("roll/<uuid:local_code>/import/", roll_import, name="roll_import"),
    path("roll/<uuid:local_code>/import/commit/", roll_import_commit, name="roll_import_commit"),
    path("roll/members/<uuid:member_code>/", roll_member, name="roll_member"),
    path("roll/members/<uuid:member_code>/status/", roll_member_status, name="roll_member_status"),
    path("roll/members/<uuid:member_code>/dues/", roll_member_dues, name="roll_member_dues"),
    path("roll/members/<uuid:member_code>/unit/", roll_member_unit, name="roll_member_unit"),
    path("roll/members/<uuid:member_code>/notes/", roll_member_notes, name="roll_member_notes"),
    path("roll/members/<uuid:member_code>/role/", roll_member_role, name="roll_member_role"),
    path("roll/members/<uuid:member_code>/verify/", roll_verify, name="roll_verify"),
    path("roll/members/<uuid:member_code>/reject/", roll_reject, name="roll_reject"),
]
