"""Table log pages (asked, on the table now, status), the tentative agreement, and document previews.

Readers of the campaign (bargaining/permissions.py) read everything here; its editors record
positions and statuses and generate the agreement. Everyone else: 404, whether it exists or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_tasks import TaskResult, TaskResultStatus

from bargaining.agreement import has_agreed_articles, latest_agreement
from bargaining.documents import latest_document
from bargaining.forms_table import EntryForm, StatusForm
from bargaining.models import Campaign, Demand
from bargaining.models_table import TableEntry
from bargaining.permissions import access_campaign, access_demand, can_edit_campaign
from bargaining.previews import document_links, preview_of
from bargaining.table import (
    SETTLED,
    TABLED_STAGES,
    demand_status_set,
    entries_with_diffs,
    status_now,
    table_entry_add,
    table_open,
    table_rows,
)
from bargaining.tasks import generate_agreement_document
from membership.types import AuthedHttpRequest
from union.documents import document_read
from union.models import Document, DocumentCustody
from union.pdf import pdf_response


def _kept_info(campaign: Campaign, kind: str, kept: Any) -> dict[str, Any] | None:
    if kept is None:
        return None
    return {"version": kept.document.version, "created_at": kept.created_at, "sha256": kept.document.sha256,
            **document_links(campaign.code, kind, kept.document)}


def documents_panel(campaign: Campaign, *, can_edit: bool) -> dict[str, Any]:
    """What the campaign page's documents panel shows (templates/bargaining/_documents_panel.html)."""
    rows = table_rows(campaign)
    demands_doc = _kept_info(campaign, "demands", latest_document(campaign))
    agreement_doc = _kept_info(campaign, "agreement", latest_agreement(campaign))
    can_agree = can_edit and any(r["status"] in SETTLED for r in rows)
    cards = [("demands", demands_doc, _("Demands document"),
              reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code}), can_edit and bool(rows))]
    if agreement_doc is not None or can_agree:
        cards.append(("agreement", agreement_doc, _("Tentative agreement"),
                      reverse("bargaining:agreement_generate", kwargs={"code": campaign.code}), can_agree))
    return {"document_cards": cards, "socket_path": f"/ws/bargaining/{campaign.code}/"}


def generated_answer(request: AuthedHttpRequest, campaign: Campaign, kind: str, result: TaskResult[Any],
                     *, fallback: str) -> HttpResponse:
    """The answer to a generate button: JSON for the page's script, else a message and a redirect.

    The script sends `Accept: application/json` and follows the progress over the socket; without
    a script, the form's `back` field says which page to return to (a name, never a URL).
    """
    done, failed = result.status == TaskResultStatus.SUCCESSFUL, result.status == TaskResultStatus.FAILED
    version = result.return_value if done else None
    if "application/json" in request.headers.get("Accept", ""):
        step = "done" if done else "failed" if failed else "queued"
        body: dict[str, Any] = {"kind": kind, "step": step, "version": version}
        if done:
            kept = (latest_document(campaign) if kind == "demands" else latest_agreement(campaign))
            info = _kept_info(campaign, kind, kept) or {}
            body.update(download=info.get("download", ""), preview=info.get("preview", ""))
        return JsonResponse(body, status=200 if done else 500 if failed else 202)
    if failed:
        messages.error(request, _("The document could not be generated. Try again, or reload the page."))
    elif done:
        text = (_("Document version %(version)s is ready.") if kind == "demands"
                else _("Tentative agreement version %(version)s is ready."))
        messages.success(request, text % {"version": version})
    else:
        messages.info(request, _("The document is being prepared. Reload this page in a moment."))
    if request.POST.get("back") == "campaign":
        return redirect("bargaining:campaign_detail", code=campaign.code)
    return redirect(fallback, code=campaign.code)


@never_cache
@login_required
@require_GET
def campaign_table(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code)
    rows = table_rows(campaign)
    return render(request, "bargaining/table.html", {
        "campaign": campaign, "can_edit": can_edit_campaign(request.user, campaign), "rows": rows,
        "untabled": [r for r in rows if not r["tabled"]], "stage_tabled": campaign.stage in TABLED_STAGES,
        "settled": any(r["status"] in SETTLED for r in rows),
        "agreements": campaign.agreements.select_related("document").order_by("-document__version"),
    })


@never_cache
@login_required
@require_POST
def campaign_table_open(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    try:
        added = table_open(actor=request.user, campaign=campaign)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(count)s articles recorded as tabled.") % {"count": added})
    return redirect("bargaining:campaign_table", code=campaign.code)


def _demand_page(request: AuthedHttpRequest, demand: Demand, *, entry_form: BaseForm | None = None,
                 status_form: BaseForm | None = None, status: int = 200) -> HttpResponse:
    can_edit = can_edit_campaign(request.user, demand.campaign)
    return render(request, "bargaining/demand_table.html", {
        "demand": demand, "campaign": demand.campaign, "can_edit": can_edit,
        "entries": entries_with_diffs(demand),
        "changes": demand.status_changes.select_related("entry", "author__member").order_by("-created_at", "-pk"),
        "entry_form": entry_form or EntryForm(initial={"source": TableEntry.Source.EMPLOYER}),
        "status_form": status_form or StatusForm(demand=demand, initial={"status": status_now(demand)}),
    }, status=status)


def _table_post(request: AuthedHttpRequest, code: str, *, slot: str, make_form: Callable[[Demand], BaseForm],
                write: Callable[..., Any], saved: str) -> HttpResponse:
    """The table's two forms (a position, a status): access for write, the form, the service, and the
    page again with the form's errors (400), or a message and the page (redirect)."""
    demand = access_demand(request.user, code, for_write=True)
    form = make_form(demand)
    if form.is_valid():
        try:
            write(actor=request.user, demand=demand, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, saved)
            return redirect("bargaining:demand_table", code=demand.code)
    return _demand_page(request, demand, status=400, **{slot: form})


@never_cache
@login_required
@require_GET
def demand_table(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _demand_page(request, access_demand(request.user, code))


@never_cache
@login_required
@require_POST
def demand_table_entry(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _table_post(request, code, slot="entry_form", make_form=lambda demand: EntryForm(request.POST),
                       write=table_entry_add, saved=_("Position recorded."))


@never_cache
@login_required
@require_POST
def demand_table_status(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _table_post(request, code, slot="status_form",
                       make_form=lambda demand: StatusForm(request.POST, demand=demand),
                       write=demand_status_set, saved=_("Status saved."))


@never_cache
@login_required
@require_POST
def agreement_generate_view(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    # The agreement's own rule (an article counts once a position's text was agreed), not a looser copy.
    if not has_agreed_articles(campaign):
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"kind": "agreement", "step": "failed"}, status=400)
        messages.error(request, _("No article is agreed or tentatively agreed yet."))
        return redirect("bargaining:campaign_table", code=campaign.code)
    # Ids only in the task's arguments (stored in clear by the database backend).
    result = generate_agreement_document.enqueue(campaign_id=campaign.pk, actor_id=request.user.pk)
    return generated_answer(request, campaign, "agreement", result, fallback="bargaining:campaign_table")


def _version(campaign: Campaign, kind: str, version: int) -> Document:
    kept = (campaign.documents if kind == "demands" else campaign.agreements).select_related("document").filter(
        document__version=version).first()
    if kept is None:
        raise Http404
    return kept.document


@never_cache
@login_required
@require_GET
def agreement_download(request: AuthedHttpRequest, code: str, version: int) -> HttpResponse:
    campaign = access_campaign(request.user, code)
    pdf = document_read(document=_version(campaign, "agreement", version), actor_id=request.user.pk)
    return pdf_response(pdf, filename=f"tentative-agreement-v{version}.pdf")


def _preview(request: AuthedHttpRequest, code: str, kind: str, version: int) -> HttpResponse:
    campaign = access_campaign(request.user, code)
    image = preview_of(_version(campaign, kind, version))
    if image is None:
        raise Http404
    png = document_read(document=image, actor_id=request.user.pk, action=DocumentCustody.Action.READ)
    response = HttpResponse(png, content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@login_required
@require_GET
def agreement_preview(request: AuthedHttpRequest, code: str, version: int) -> HttpResponse:
    return _preview(request, code, "agreement", version)


@never_cache
@login_required
@require_GET
def campaign_document_preview(request: AuthedHttpRequest, code: str, version: int) -> HttpResponse:
    return _preview(request, code, "demands", version)


urlpatterns: list[URLPattern] = [
    path("<uuid:code>/table/", campaign_table, name="campaign_table"),
    path("<uuid:code>/table/open/", campaign_table_open, name="campaign_table_open"),
    path("<uuid:code>/agreement/generate/", agreement_generate_view, name="agreement_generate"),
    path("<uuid:code>/agreement/<int:version>/", agreement_download, name="agreement_download"),
    path("<uuid:code>/agreement/<int:version>/preview.png", agreement_preview, name="agreement_preview"),
    path("<uuid:code>/documents/<int:version>/preview.png", campaign_document_preview,
         name="campaign_document_preview"),
    path("demands/<uuid:code>/table/", demand_table, name="demand_table"),
    path("demands/<uuid:code>/table/entries/", demand_table_entry, name="demand_table_entry"),
    path("demands/<uuid:code>/table/status/", demand_table_status, name="demand_table_status"),
]
