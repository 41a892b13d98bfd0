"""Bargaining pages: campaigns, their demands, revisions and diffs (urls at the bottom).

Every campaign and demand URL answers 404 to whoever may not read it, whether it exists or not
(bargaining/permissions.py); readers who may not edit get 403 on the edit forms.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bargaining.forms import CampaignForm, CompareForm, DemandForm
from bargaining.forms_consult import SurveyOpenForm
from bargaining.markup import field_diffs, render_markdown
from bargaining.models import Campaign, Demand
from bargaining.permissions import access_campaign, access_demand, can_create_campaign, can_edit_campaign
from bargaining.selectors import campaigns_visible_to, handled_counts_by_category, linkable_grievances
from bargaining.services import campaign_create, campaign_update, demand_create, demand_update
from bargaining.tasks import generate_demands_document
from bargaining.views_consult import consultation_context
from bargaining.views_table import documents_panel, generated_answer
from membership.selectors import locals_where
from membership.types import AuthedHttpRequest
from union.documents import document_read
from union.pdf import pdf_response


def _form_error(form: CampaignForm | DemandForm, error: ValidationError) -> None:
    for message in error.messages:
        form.add_error(None, message)


@never_cache
@login_required
@require_GET
def campaign_list(request: AuthedHttpRequest) -> HttpResponse:
    campaigns = campaigns_visible_to(request.user).order_by("-created_at")
    can_create = locals_where(request.user, "draft_demands").exists()
    return render(request, "bargaining/campaign_list.html", {"campaigns": campaigns, "can_create": can_create})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: AuthedHttpRequest) -> HttpResponse:
    # A campaign is created in the one local where the user drafts demands (the first, if several).
    local = locals_where(request.user, "draft_demands").order_by("pk").first()
    if local is None or not can_create_campaign(request.user, local):
        raise PermissionDenied
    form = CampaignForm(request.POST or None, local=local)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_create(actor=request.user, local=local, name=data["name"], units=list(data["units"]),
                                       committee=list(data["committee"]), language=data["language"],
                                       **{f: data[f] for f in _DATES})
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Campaign created."))
            return redirect("bargaining:campaign_detail", code=campaign.code)
    return render(request, "bargaining/campaign_form.html", {"form": form, "local": local}, status=_status(form))


_DATES = ("consultation_ends_on", "ratification_on", "tabled_on", "agreement_expires_on")


def _status(form: CampaignForm | DemandForm | CompareForm) -> int:
    return 400 if form.is_bound and form.errors else 200


@never_cache
@login_required
@require_GET
def campaign_detail(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code)
    can_edit = can_edit_campaign(request.user, campaign)
    return render(request, "bargaining/campaign_detail.html", {
        "campaign": campaign, "can_edit": can_edit, **documents_panel(campaign, can_edit=can_edit),
        "units": campaign.units.select_related("employer", "client"),
        "committee": campaign.committee.select_related("member"),
        "demands": campaign.demands.annotate(endorsement_count=Count("endorsements")),
        "ballots": campaign.ballots.select_related("demand").order_by("-opened_at"),
        "surveys": campaign.surveys.order_by("-opened_at"),
        "survey_form": SurveyOpenForm() if campaign.stage == Campaign.Stage.CONSULTATION else None,
    })


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    form = CampaignForm(request.POST or None, instance=campaign, local=campaign.local, with_stage=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {f: data[f] for f in ("name", "stage", "language", *_DATES)}
        try:
            campaign_update(actor=request.user, campaign=campaign, units=list(data["units"]),
                            committee=list(data["committee"]), **fields)
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("bargaining:campaign_detail", code=campaign.code)
    return render(request, "bargaining/campaign_form.html", {"form": form, "campaign": campaign},
                  status=_status(form))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def demand_new(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    form = DemandForm(request.POST or None, campaign=campaign, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            demand = demand_create(actor=request.user, campaign=campaign, grievances=list(data["grievances"]),
                                   **{f: data[f] for f in _DEMAND})
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Demand added."))
            return redirect("bargaining:demand_detail", code=demand.code)
    return render(request, "bargaining/demand_form.html", {"form": form, "campaign": campaign}, status=_status(form))


_DEMAND = ("title", "category", "text", "rationale", "priority", "cost_estimate")


@never_cache
@login_required
@require_GET
def demand_detail(request: AuthedHttpRequest, code: str) -> HttpResponse:
    demand = access_demand(request.user, code)
    can_edit = can_edit_campaign(request.user, demand.campaign)
    return render(request, "bargaining/demand_detail.html", {
        "demand": demand, "campaign": demand.campaign, "can_edit": can_edit,
        # render_markdown escapes raw HTML and sanitizes the result (bargaining/markup.py).
        "text_html": mark_safe(render_markdown(demand.text)),  # noqa: S308
        "rationale_html": mark_safe(render_markdown(demand.rationale)),  # noqa: S308
        "handled": handled_counts_by_category(demand),
        # Case numbers only for editors, who see the local's cases; members see the counts.
        # ... and only the cases this editor may open (a restricted case stays out of sight).
        "cases": demand.grievances.filter(pk__in=linkable_grievances(request.user, demand.campaign).values("pk"))
        .select_related("category").order_by("number") if can_edit else None,
        "revisions": demand.revisions.select_related("author__member").order_by("-number"),
        **consultation_context(request.user, demand),
    })


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def demand_edit(request: AuthedHttpRequest, code: str) -> HttpResponse:
    demand = access_demand(request.user, code, for_write=True)
    form = DemandForm(request.POST or None, instance=demand, campaign=demand.campaign, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            demand_update(actor=request.user, demand=Demand.objects.get(pk=demand.pk),
                          grievances=list(data["grievances"]), **{f: data[f] for f in _DEMAND})
        except ValidationError as error:
            _form_error(form, error)
        else:
            messages.success(request, _("Demand saved."))
            return redirect("bargaining:demand_detail", code=demand.code)
    return render(request, "bargaining/demand_form.html", {"form": form, "campaign": demand.campaign,
                                                            "demand": demand}, status=_status(form))


@never_cache
@login_required
@require_GET
def demand_diff(request: AuthedHttpRequest, code: str) -> HttpResponse:
    """The word-level difference between two revisions (?a=1&b=3; default: the last two)."""
    demand = access_demand(request.user, code)
    revisions = list(demand.revisions.order_by("number"))
    data = request.GET if {"a", "b"} <= set(request.GET) else {
        "a": revisions[max(len(revisions) - 2, 0)].number, "b": revisions[-1].number}
    form = CompareForm(data, demand=demand)
    rows = None
    if form.is_valid():
        rows = field_diffs(form.cleaned_data["a"], form.cleaned_data["b"],
                           ("title", "category", "text", "rationale", "priority", "cost_estimate"))
        labels = {"title": _("Title"), "category": _("Category"), "text": _("Text"), "rationale": _("Rationale"),
                  "priority": _("Priority"), "cost_estimate": _("Cost estimate")}
        for row in rows:
            row["label"] = labels[row["field"]]
    return render(request, "bargaining/demand_diff.html", {
        "demand": demand, "campaign": demand.campaign, "form": form, "rows": rows,
        "a": form.cleaned_data.get("a") if rows else None, "b": form.cleaned_data.get("b") if rows else None,
    }, status=_status(form))


@never_cache
@login_required
@require_GET
def campaign_documents(request: AuthedHttpRequest, code: str) -> HttpResponse:
    """The generated versions, each with the SHA-256 of its file and of its content."""
    campaign = access_campaign(request.user, code)
    return render(request, "bargaining/documents.html", {
        "campaign": campaign, "can_edit": can_edit_campaign(request.user, campaign),
        "documents": campaign.documents.select_related("document").order_by("-document__version"),
    })


@never_cache
@login_required
@require_POST
def campaign_document_generate(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    if not campaign.demands.exists():
        messages.error(request, _("Add a demand before generating the document."))
        return redirect("bargaining:campaign_documents", code=campaign.code)
    # Ids only in the task's arguments (stored in clear by the database backend). With the immediate
    # backend (development, tests) the document exists when this returns.
    result = generate_demands_document.enqueue(campaign_id=campaign.pk, actor_id=request.user.pk)
    return generated_answer(request, campaign, "demands", result, fallback="bargaining:campaign_documents")


@never_cache
@login_required
@require_GET
def campaign_document_download(request: AuthedHttpRequest, code: str, version: int) -> HttpResponse:
    campaign = access_campaign(request.user, code)
    kept = campaign.documents.select_related("document").filter(document__version=version).first()
    if kept is None:
        raise Http404
    pdf = document_read(document=kept.document, actor_id=request.user.pk)
    return pdf_response(pdf, filename=f"demands-v{version}.pdf")


urlpatterns: list[URLPattern] = [
    path("", campaign_list, name="campaign_list"),
    path("new/", campaign_new, name="campaign_new"),
    path("<uuid:code>/", campaign_detail, name="campaign_detail"),
    path("<uuid:code>/edit/", campaign_edit, name="campaign_edit"),
    path("<uuid:code>/demands/new/", demand_new, name="demand_new"),
    path("<uuid:code>/documents/", campaign_documents, name="campaign_documents"),
    path("<uuid:code>/documents/generate/", campaign_document_generate, name="campaign_document_generate"),
    path("<uuid:code>/documents/<int:version>/", campaign_document_download, name="campaign_document_download"),
    path("demands/<uuid:code>/", demand_detail, name="demand_detail"),
    path("demands/<uuid:code>/edit/", demand_edit, name="demand_edit"),
    path("demands/<uuid:code>/diff/", demand_diff, name="demand_diff"),
]
