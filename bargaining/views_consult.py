"""Consultation pages: comments and endorsements on a demand, the priorities survey and its results.

Everything here is as visible as its campaign (bargaining/permissions.py): 404 for everyone else.
Writes go through bargaining/consultation.py, which also says what "anonymous" is worth.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bargaining import consultation as svc
from bargaining.documents import survey_chart
from bargaining.forms_consult import (
    CommentEditForm,
    CommentForm,
    EndorseForm,
    HideForm,
    SurveyAnswerForm,
    SurveyOpenForm,
)
from bargaining.models import Demand, Participation, Survey, SurveyAnswer
from bargaining.permissions import (
    access_campaign,
    access_comment,
    access_demand,
    access_survey,
    access_survey_results,
    can_edit_campaign,
    can_edit_comment,
    can_moderate_comments,
    can_see_named_answers,
    can_see_survey_results,
    is_comment_author,
)
from membership.types import AuthedHttpRequest


def _demand_url(demand: Demand, anchor: str = "comments") -> str:
    return reverse("bargaining:demand_detail", kwargs={"code": demand.code}) + f"#{anchor}"


def consultation_context(user: Any, demand: Demand) -> dict[str, Any]:
    """What the demand page shows of the consultation: comments, endorsements, the forms."""
    campaign = demand.campaign
    comments = []
    for comment in demand.comments.select_related("author__member"):
        mine = is_comment_author(comment, user)
        comments.append({"comment": comment, "mine": mine, "can_edit": can_edit_comment(user, comment, mine=mine)})
    endorsement = svc.endorsement_of(user, demand)
    return {
        # Distinct ids: both forms have an "anonymous" box on the same page.
        "comments": comments, "comment_form": CommentForm(auto_id="comment_%s"),
        "can_moderate": can_moderate_comments(user, campaign), "consultation_open": campaign.stage in svc.OPEN_STAGES,
        "endorsements": demand.endorsements.count(), "endorsement": endorsement, "endorse_form": EndorseForm(auto_id="endorse_%s"),
    }


@never_cache
@login_required
@require_POST
def comment_add(request: AuthedHttpRequest, code: str) -> HttpResponse:
    demand = access_demand(request.user, code)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            svc.comment_add(author=request.user, demand=demand, body=form.cleaned_data["body"],
                            anonymous=form.cleaned_data["anonymous"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Comment posted."))
            return redirect(_demand_url(demand))
    return render(request, "bargaining/comment_form.html", {"form": form, "demand": demand, "new": True}, status=400)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def comment_edit(request: AuthedHttpRequest, code: str) -> HttpResponse:
    comment = access_comment(request.user, code, for_author=True)
    form = CommentEditForm(request.POST or None, initial={"body": comment.body})
    if request.method == "POST" and form.is_valid():
        try:
            svc.comment_edit(actor=request.user, comment=comment, body=form.cleaned_data["body"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Comment saved."))
            return redirect(_demand_url(comment.demand))
    return render(request, "bargaining/comment_form.html", {"form": form, "demand": comment.demand, "comment": comment},
                  status=400 if form.is_bound and form.errors else 200)


@never_cache
@login_required
@require_POST
def comment_delete(request: AuthedHttpRequest, code: str) -> HttpResponse:
    comment = access_comment(request.user, code, for_author=True)
    svc.comment_delete(actor=request.user, comment=comment)
    messages.success(request, _("Comment deleted."))
    return redirect(_demand_url(comment.demand))


@never_cache
@login_required
@require_POST
def comment_hide(request: AuthedHttpRequest, code: str) -> HttpResponse:
    comment = access_comment(request.user, code, for_moderation=True)
    form = HideForm(request.POST)
    if not form.is_valid():
        messages.error(request, str(svc.ERR_REASON))
        return redirect(_demand_url(comment.demand, f"comment-{comment.code}"))
    svc.comment_hide(actor=request.user, comment=comment, reason=form.cleaned_data["reason"])
    messages.success(request, _("Comment hidden."))
    return redirect(_demand_url(comment.demand, f"comment-{comment.code}"))


@never_cache
@login_required
@require_POST
def comment_restore(request: AuthedHttpRequest, code: str) -> HttpResponse:
    comment = access_comment(request.user, code, for_moderation=True)
    svc.comment_restore(actor=request.user, comment=comment)
    messages.success(request, _("Comment shown again."))
    return redirect(_demand_url(comment.demand, f"comment-{comment.code}"))


@never_cache
@login_required
@require_POST
def endorse(request: AuthedHttpRequest, code: str) -> HttpResponse:
    demand = access_demand(request.user, code)
    form = EndorseForm(request.POST)
    form.is_valid()  # a checkbox: always valid, absent means named
    try:
        endorsed = svc.endorsement_toggle(user=request.user, demand=demand,
                                          anonymous=bool(form.cleaned_data.get("anonymous")))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("You endorse this demand.") if endorsed else _("Endorsement withdrawn."))
    return redirect(_demand_url(demand, "endorse"))


@never_cache
@login_required
@require_POST
def survey_new(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    form = SurveyOpenForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            survey = svc.survey_open(actor=request.user, campaign=campaign, method=data["method"],
                                     dots=data["dots"] or 0, anonymous=data["anonymous"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            return redirect("bargaining:survey_detail", code=survey.code)
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect(reverse("bargaining:campaign_detail", kwargs={"code": campaign.code}) + "#survey")


def _survey_page(request: AuthedHttpRequest, survey: Survey, *, form: SurveyAnswerForm | None = None,
                 status: int = 200) -> HttpResponse:
    demands = list(survey.demands.order_by("number"))
    eligible = svc.eligible_respondents(survey.campaign).filter(user_id=request.user.pk).exists()
    answered = Participation.objects.filter(survey=survey, user=request.user).exists()
    mine = None
    if answered and not survey.anonymous:
        response = survey.responses.filter(respondent=request.user).first()
        if response is not None:
            values = dict(response.answers.values_list("demand_id", "value"))
            mine = [(d, values.get(d.pk, 0)) for d in demands]
            if survey.method == Survey.Method.RANKING:
                mine.sort(key=lambda pair: pair[1])
    return render(request, "bargaining/survey.html", {
        "survey": survey, "campaign": survey.campaign, "demands": demands, "eligible": eligible,
        "answered": answered, "mine": mine, "can_edit": can_edit_campaign(request.user, survey.campaign),
        "can_see_results": can_see_survey_results(request.user, survey),
        "form": form or SurveyAnswerForm(survey=survey, demands=demands),
        "participants": survey.participations.count(),
    }, status=status)


@never_cache
@login_required
@require_GET
def survey_detail(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _survey_page(request, access_survey(request.user, code))


@never_cache
@login_required
@require_POST
def survey_respond(request: AuthedHttpRequest, code: str) -> HttpResponse:
    survey = access_survey(request.user, code)
    form = SurveyAnswerForm(request.POST, survey=survey, demands=list(survey.demands.order_by("number")))
    if not form.is_valid():
        return _survey_page(request, survey, form=form, status=400)
    try:
        svc.survey_respond(user=request.user, survey=survey, values=form.values())
    except ValidationError as error:
        form.add_error(None, error)
        return _survey_page(request, survey, form=form, status=400)
    messages.success(request, _("Thank you: your answer is counted."))
    return redirect("bargaining:survey_detail", code=survey.code)


@never_cache
@login_required
@require_POST
def survey_end(request: AuthedHttpRequest, code: str) -> HttpResponse:
    survey = access_survey(request.user, code, for_write=True)
    try:
        svc.survey_close(actor=request.user, survey=survey)
    except ValidationError as error:
        # A state, not a right: a second click (or another tab) finds the survey already closed.
        messages.error(request, " ".join(error.messages))
        return redirect("bargaining:survey_detail", code=survey.code)
    messages.success(request, _("The survey is closed and its results are published to the members."))
    return redirect("bargaining:survey_results", code=survey.code)


@never_cache
@login_required
@require_GET
def survey_results(request: AuthedHttpRequest, code: str) -> HttpResponse:
    survey = access_survey_results(request.user, code)
    # A closed survey shows what was counted at the close; an open one is tallied now.
    closed = survey.status == Survey.Status.CLOSED and survey.result is not None
    result: dict[str, Any] = survey.result if closed and survey.result is not None else svc.survey_tally(survey)
    numbers = sorted(r["number"] for r in result["rows"])
    named = None
    if can_see_named_answers(request.user, survey):
        # Two queries whatever the number of answers: the responses, then all their answers.
        values: dict[Any, dict[int, int]] = {}
        for response_id, number, value in SurveyAnswer.objects.filter(response__survey=survey).values_list(
                "response_id", "demand__number", "value"):
            values.setdefault(response_id, {})[number] = value
        named = [(r.respondent, [values.get(r.pk, {}).get(number, "") for number in numbers])
                 for r in survey.responses.select_related("respondent__member")]
        named.sort(key=lambda pair: getattr(getattr(pair[0], "member", None), "pseudonym", ""))
    return render(request, "bargaining/survey_results.html", {
        "survey": survey, "campaign": survey.campaign, "result": result, "closed": closed,
        "chart": survey_chart(result, width=360, label_chars=22), "named": named, "numbers": numbers,
        "eligible": result.get("eligible") or svc.eligible_respondents(survey.campaign).count(),
    })


urlpatterns: list[URLPattern] = [
    path("demands/<uuid:code>/comments/", comment_add, name="comment_add"),
    path("demands/<uuid:code>/endorse/", endorse, name="endorse"),
    path("comments/<uuid:code>/edit/", comment_edit, name="comment_edit"),
    path("comments/<uuid:code>/delete/", comment_delete, name="comment_delete"),
    path("comments/<uuid:code>/hide/", comment_hide, name="comment_hide"),
    path("comments/<uuid:code>/restore/", comment_restore, name="comment_restore"),
    path("<uuid:code>/surveys/new/", survey_new, name="survey_new"),
    path("surveys/<uuid:code>/", survey_detail, name="survey_detail"),
    path("surveys/<uuid:code>/respond/", survey_respond, name="survey_respond"),
    path("surveys/<uuid:code>/close/", survey_end, name="survey_close"),
    path("surveys/<uuid:code>/results/", survey_results, name="survey_results"),
]
