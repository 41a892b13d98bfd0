"""Grievance pages: working a case (urls at the bottom).

Workflow actions (advance, close, reopen, assign, adverse actions) are POSTs for those who may work
the case (`can_work`); a read-only officer or a grievant gets 403, anyone else 404. Each success
returns to the case page. The retaliation register and the letters are for the case's officers;
evidence is for its officers and its grievants. Every page is @never_cache.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import MemoryFileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParser
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from grievances import services
from grievances.evidence import ERR_SIZE, MAX_BYTES, EvidenceRejected
from grievances.forms_work import (
    AdvanceForm,
    AdverseActionForm,
    AssignForm,
    CloseForm,
    EvidenceForm,
    LetterForm,
    ReopenForm,
)
from grievances.models import AdverseAction, Grievance, LetterRequest
from grievances.permissions import (
    access_evidence,
    access_grievance,
    access_grievance_for_upload,
    access_letter,
    access_officer_grievance,
    access_register,
    can_upload_evidence,
    can_work,
)
from membership.models import Invitation, Member, RoleGrant, UnionCard
from membership.roles import OFFICER_ROLES, Role
from membership.types import AuthedHttpRequest
from union.pdf import pdf_response

FORMS = {"advance": AdvanceForm, "close": CloseForm, "reopen": ReopenForm, "assign": AssignForm,
         "adverse": AdverseActionForm}
NEEDS_CASE = {"advance", "assign"}


def _detail(grievance: Grievance) -> HttpResponse:
    return redirect(reverse("grievances:detail", kwargs={"code": grievance.code}))


def _form(name: str, grievance: Grievance, data: Any = None) -> Any:
    kwargs = {"grievance": grievance} if name in NEEDS_CASE else {}
    return FORMS[name](data, **kwargs)


def _work_page(request: HttpRequest, grievance: Grievance, bound: Any = None, name: str = "",
               status: int = 200) -> HttpResponse:
    forms = {key: (bound if key == name else _form(key, grievance)) for key in FORMS}
    is_open, is_closed = grievance.status == Grievance.Status.OPEN, grievance.status == Grievance.Status.CLOSED
    # A refused action whose form is not on the page (advancing a closed case) still says why.
    shown = {"advance": is_open, "close": is_open, "reopen": is_closed}.get(name, True)
    return render(request, "grievances/work/actions.html", {
        "grievance": grievance, "forms": forms, "is_open": is_open, "is_closed": is_closed,
        "refused": bound if bound is not None and not shown else None,
        "adverse_actions": grievance.adverse_actions.all(),
    }, status=status)


@never_cache
@login_required
@require_GET
def work_actions(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    grievance, _level = access_grievance(request.user, code, for_write=True)
    return _work_page(request, grievance)


def _apply(name: str, actor: Any, grievance: Grievance, data: dict[str, Any]) -> str:
    """Run the service behind form `name`; return the confirmation to show."""
    if name == "advance":
        services.grievance_advance(actor=actor, grievance=grievance, step=data["step"],
                                   triggered_on=data["triggered_on"])
        return _("The case moved to its next step.")
    if name == "close":
        services.grievance_close(actor=actor, grievance=grievance, outcome=data["outcome"], amount=data["amount"],
                                 summary=data["summary"])
        return _("The case was closed.")
    if name == "reopen":
        services.grievance_reopen(actor=actor, grievance=grievance, reason=data["reason"])
        return _("The case was reopened.")
    if name == "assign":
        services.grievance_assign(actor=actor, grievance=grievance, steward=data["steward"])
        return _("The steward was assigned.")
    services.adverse_action_add(actor=actor, grievance=grievance, kind=data["kind"], occurred_on=data["occurred_on"],
                                description=data["description"])
    return _("The adverse action was recorded.")


def _workflow_post(request: HttpRequest, code: UUID, name: str) -> HttpResponse:
    grievance, _level = access_grievance(request.user, code, for_write=True)
    form = _form(name, grievance, request.POST)
    if form.is_valid():
        try:
            done = _apply(name, request.user, grievance, form.cleaned_data)
        except services.GrievanceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, done)
            return _detail(grievance)
    return _work_page(request, grievance, form, name, status=400)


def _workflow_view(name: str) -> Any:
    @never_cache
    @login_required
    @require_POST
    def view(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
        return _workflow_post(request, code, name)

    view.__name__ = view.__qualname__ = f"work_{name}"
    return view


# --- retaliation register --------------------------------------------------------------------


def _day(value: datetime | date) -> date:
    return timezone.localdate(value) if isinstance(value, datetime) else value


def organizing_timeline(members: list[Member]) -> list[dict[str, Any]]:
    """What each grievant did as a union member, dated: joining, verification, cards, roles, invitations."""
    rows: list[dict[str, Any]] = []
    ids = [m.pk for m in members]
    by_id = {m.pk: m for m in members}
    for m in members:
        rows.append({"on": _day(m.joined_at), "member": m, "label": _("Joined the union")})
        if m.verified_at:
            rows.append({"on": _day(m.verified_at), "member": m, "label": _("Membership verified")})
    for card in UnionCard.objects.filter(member_id__in=ids):
        rows.append({"on": _day(card.signed_at), "member": by_id[card.member_id], "label": _("Signed a union card")})
        if card.revoked_at:
            rows.append({"on": _day(card.revoked_at), "member": by_id[card.member_id],
                         "label": _("Revoked a union card")})
    users = {m.user_id: m for m in members if m.user_id}
    for grant in RoleGrant.objects.filter(user_id__in=users, role__in=OFFICER_ROLES):
        rows.append({"on": _day(grant.granted_at), "member": users[grant.user_id],
                     "label": _("New role: %(role)s") % {"role": Role(grant.role).label}})
    for invitation in Invitation.objects.filter(inviter_id__in=ids):
        assert invitation.inviter_id is not None  # the filter above
        rows.append({"on": _day(invitation.created_at), "member": by_id[invitation.inviter_id],
                     "label": _("Invited a coworker to join")})
    return rows


def register_rows(grievance: Grievance) -> list[dict[str, Any]]:
    """Organizing activity and adverse actions in one dated sequence; each adverse action says how
    many days after the latest organizing activity it came, because that sequence is the evidence."""
    members = list(grievance.grievants.all())
    rows = [{**row, "side": "organizing"} for row in organizing_timeline(members)]
    for action in grievance.adverse_actions.all():
        rows.append({"on": action.occurred_on, "side": "adverse", "label": action.get_kind_display(),
                     "detail": action.description or ""})
    rows.sort(key=lambda row: (row["on"], row["side"] == "adverse"))
    latest = None
    for row in rows:
        if row["side"] == "organizing":
            latest = row["on"]
        elif latest is not None:
            row["days_after"] = (row["on"] - latest).days
    return rows


@never_cache
@login_required
@require_GET
def work_register(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    grievance = access_register(request.user, code)
    services.grievance_record_view(actor=request.user, grievance=grievance, page="register")
    return render(request, "grievances/work/register.html", {
        "grievance": grievance, "rows": register_rows(grievance), "can_work": can_work(request.user, grievance),
        "kinds": AdverseAction.Kind,
    })


# --- evidence --------------------------------------------------------------------------------


class EvidenceUploadHandler(MemoryFileUploadHandler):
    """Keeps one upload in memory, never in a plaintext temporary file on disk, and drops it as soon
    as it passes the evidence limit, so a huge upload neither fills memory nor reaches the disk."""

    def handle_raw_input(self, input_data: Any, META: Any, content_length: Any, boundary: Any,
                         encoding: Any = None) -> None:
        self.activated, self.too_big, self.files, self.raw_name = True, False, 0, ""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        self.files += 1
        if self.files > 1:
            # Not SkipFile: the parser would close the first file, already received, along with it.
            return
        # UploadedFile.name keeps only the last path component: keep the name as sent, to judge it.
        self.raw_name = file_name
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.files > 1:
            return None
        if start + len(raw_data) > MAX_BYTES:
            self.too_big = True
            raise SkipFile
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> Any:
        return None if self.files > 1 else super().file_complete(file_size)


class RawNameParser(MultiPartParser):
    """Keeps each file name exactly as sent. Django would quietly cut "../../etc/passwd.txt" down to
    "passwd.txt"; evidence_upload refuses such names instead, and says why."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        return file_name or None


def hash_parts(sha256: str) -> list[str]:
    """A SHA-256 in groups of 16, joined by <wbr> in templates so it wraps on a phone yet copies whole."""
    return [sha256[i:i + 16] for i in range(0, len(sha256), 16)]


def _evidence_page(request: HttpRequest, grievance: Grievance, level: str, form: EvidenceForm | None = None,
                   status: int = 200) -> HttpResponse:
    evidence = list(grievance.evidence.select_related("uploaded_by").prefetch_related("custody__actor").order_by(
        "created_at", "id"))
    for item in evidence:
        item.sha_parts = hash_parts(item.sha256)  # type: ignore[attr-defined]
    return render(request, "grievances/work/evidence.html", {
        "grievance": grievance, "evidence": evidence, "form": form or EvidenceForm(),
        "can_upload": can_upload_evidence(request.user, grievance, level),
    }, status=status)


@never_cache
@login_required
@require_GET
def work_evidence(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    grievance, level = access_grievance(request.user, code)
    return _evidence_page(request, grievance, level)


@csrf_exempt  # checked by csrf_protect below, once the upload handler is in place
@never_cache
@login_required
@require_POST
def work_evidence_upload(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    handler = EvidenceUploadHandler(request)
    request.upload_handlers = [handler]
    if request.content_type == "multipart/form-data":
        # Parsed here, with our parser and handler, before anything reads request.POST.
        # Django passes the request itself as the parser's stream too (HttpRequest.parse_file_upload);
        # django-stubs wants an IO[bytes] there.
        request._post, request._files = RawNameParser(  # type: ignore[attr-defined]
            request.META, request, [handler], request.encoding).parse()  # type: ignore[arg-type]
    return _evidence_upload(request, code, handler)


@csrf_protect
def _evidence_upload(request: AuthedHttpRequest, code: UUID, handler: EvidenceUploadHandler) -> HttpResponse:
    grievance, level = access_grievance_for_upload(request.user, code)
    form = EvidenceForm(request.POST, request.FILES)
    upload = request.FILES.get("file")
    if handler.too_big or (upload is not None and (upload.size or 0) > MAX_BYTES):
        form.is_valid()
        form.errors["file"] = form.error_class([str(ERR_SIZE)])
    elif form.is_valid() and upload is not None:  # a valid form has the file
        try:
            evidence = services.evidence_upload(actor=request.user, grievance=grievance, name=handler.raw_name,
                                                content=upload.read())
        except EvidenceRejected as error:
            form.add_error("file", str(error))
        else:
            messages.success(request, _("The file was stored. Its SHA-256 is %(sha)s.") % {"sha": evidence.sha256})
            return redirect("grievances:work_evidence", code=grievance.code)
    return _evidence_page(request, grievance, level, form, status=400)


def safe_filename(name: str, fallback: str) -> str:
    """A download name with no path, quote or control character, whatever was stored."""
    name = re.sub(r"[^\w .-]", "_", name).strip(" .")
    return name[:120] or fallback


@never_cache
@login_required
@require_GET
def work_evidence_download(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    evidence = access_evidence(request.user, code)
    content = services.evidence_read(actor=request.user, evidence=evidence)
    content_type = evidence.content_type
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    response = HttpResponse(content, content_type=content_type)
    # Never None with as_attachment=True; django-stubs has no overload saying so.
    response["Content-Disposition"] = content_disposition_header(  # type: ignore[assignment]
        as_attachment=True, filename=safe_filename(evidence.filename, f"evidence-{evidence.code}"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- letters ---------------------------------------------------------------------------------


def _letters_page(request: HttpRequest, grievance: Grievance, form: LetterForm | None = None,
                  status: int = 200) -> HttpResponse:
    names = grievance.letter_may_name and grievance.confidentiality == Grievance.Confidentiality.NORMAL
    letters = list(grievance.letters.select_related("step", "issued_by", "document"))
    for letter in letters:
        letter.sha_parts = hash_parts(letter.sha256)  # type: ignore[attr-defined]
    # Requests the background worker has not finished (or could not): the page says so.
    waiting = grievance.letter_requests.exclude(status=LetterRequest.Status.DONE).defer("facts")[:5]
    return render(request, "grievances/work/letters.html", {
        "grievance": grievance, "letters": letters, "waiting": waiting,
        "form": form or LetterForm(), "can_issue": can_work(request.user, grievance) and bool(grievance.number),
        "names_grievants": names, "has_narrative": bool(grievance.narrative),
    }, status=status)


@never_cache
@login_required
@require_GET
def work_letters(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    grievance = access_officer_grievance(request.user, code)
    form = None
    if request.GET.get("start") == "narrative" and can_work(request.user, grievance):
        # Only on the steward's request: the narrative may hold what the employer must not read.
        form = LetterForm(initial={"facts": grievance.narrative or ""})
    return _letters_page(request, grievance, form)


@never_cache
@login_required
@require_POST
def work_letter_issue(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    grievance = access_officer_grievance(request.user, code, for_write=True)
    form = LetterForm(request.POST)
    if not grievance.number:
        form.add_error(None, _("File the case before issuing a letter."))
    if not form.is_valid():
        return _letters_page(request, grievance, form, status=400)
    letter_request = services.letter_request(actor=request.user, grievance=grievance,
                                             facts=form.cleaned_data["facts"])
    if letter_request.status == LetterRequest.Status.DONE and letter_request.letter is not None:
        messages.success(request, _("Letter version %(version)s was issued.") % {
            "version": letter_request.letter.version})
    elif letter_request.status == LetterRequest.Status.FAILED:
        messages.error(request, _("The letter could not be prepared. Try again, or tell your administrator."))
    else:
        messages.info(request, _("The letter is being prepared. It appears below when it is ready."))
    return redirect("grievances:work_letters", code=grievance.code)


@never_cache
@login_required
@require_GET
def work_letter_download(request: AuthedHttpRequest, code: UUID) -> HttpResponse:
    letter = access_letter(request.user, code)
    return pdf_response(services.letter_read(actor=request.user, letter=letter),
                        filename=f"{letter.grievance.number}-letter-v{letter.version}.pdf")


urlpatterns: list[URLPattern] = [
    path("<uuid:code>/work/", work_actions, name="work_actions"),
    *[path(f"<uuid:code>/work/{name}/", _workflow_view(name), name=f"work_{name}") for name in FORMS],
    path("<uuid:code>/retaliation/", work_register, name="work_register"),
    path("<uuid:code>/evidence/", work_evidence, name="work_evidence"),
    path("<uuid:code>/evidence/upload/", work_evidence_upload, name="work_evidence_upload"),
    path("evidence/<uuid:code>/", work_evidence_download, name="work_evidence_download"),
    path("<uuid:code>/letters/", work_letters, name="work_letters"),
    path("<uuid:code>/letters/issue/", work_letter_issue, name="work_letter_issue"),
    path("letters/<uuid:code>/", work_letter_download, name="work_letter_download"),
]
