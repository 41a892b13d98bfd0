"""Ballot pages: open (editors), vote (eligible members), close and publish (editors).

A ballot is as visible as its campaign (bargaining/permissions.py): 404 for everyone else. The
vote answer shows the receipt once; the server keeps it only on the anonymous vote row.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bargaining.ballots import ballot_close, ballot_open, published_receipts, vote_cast
from bargaining.models import Ballot, Eligibility, Vote
from bargaining.permissions import access_ballot, access_campaign, can_edit_campaign
from membership.types import AuthedHttpRequest


class OpenForm(forms.Form):
    # The "%" in these labels is a percent sign, not a placeholder (xgettext would flag "% o" as one).
    quorum_percent = forms.IntegerField(
        # xgettext:no-python-format
        label=gettext_lazy("Quorum (% of eligible voters)"), min_value=1, max_value=100, initial=50)
    threshold_percent = forms.IntegerField(
        # xgettext:no-python-format
        label=gettext_lazy("Threshold (% of yes among yes and no)"), min_value=1, max_value=100, initial=50)


class VoteForm(forms.Form):
    choice = forms.ChoiceField(label=gettext_lazy("Your vote"), choices=Vote.Choice.choices, widget=forms.RadioSelect)




@never_cache
@login_required
@require_POST
def ballot_new(request: AuthedHttpRequest, code: str) -> HttpResponse:
    campaign = access_campaign(request.user, code, for_write=True)
    form = OpenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Quorum and threshold are percentages between 1 and 100."))
        return redirect("bargaining:campaign_detail", code=campaign.code)
    ballot = ballot_open(actor=request.user, campaign=campaign, **form.cleaned_data)
    return redirect("bargaining:ballot_detail", code=ballot.code)


def _page(request: AuthedHttpRequest, ballot: Ballot, *, form: VoteForm | None = None, receipt: str = "",
          status: int = 200) -> HttpResponse:
    eligibility = Eligibility.objects.filter(ballot=ballot, user=request.user).first()
    closed = ballot.status == Ballot.Status.CLOSED
    return render(request, "bargaining/ballot.html", {
        "ballot": ballot, "campaign": ballot.campaign, "eligibility": eligibility, "receipt": receipt,
        "form": form or VoteForm(), "can_edit": can_edit_campaign(request.user, ballot.campaign),
        "result": ballot.result if closed else None, "receipts": published_receipts(ballot) if closed else None,
    }, status=status)


@never_cache
@login_required
@require_GET
def ballot_detail(request: AuthedHttpRequest, code: str) -> HttpResponse:
    return _page(request, access_ballot(request.user, code))


@never_cache
@login_required
@require_POST
def ballot_vote(request: AuthedHttpRequest, code: str) -> HttpResponse:
    ballot = access_ballot(request.user, code)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _page(request, ballot, form=form, status=400)
    try:
        receipt = vote_cast(voter=request.user, ballot=ballot, choice=form.cleaned_data["choice"])
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, ballot, form=form, status=400)
    ballot.refresh_from_db()
    return _page(request, ballot, receipt=receipt)


@never_cache
@login_required
@require_POST
def ballot_end(request: AuthedHttpRequest, code: str) -> HttpResponse:
    ballot = access_ballot(request.user, code, for_write=True)
    if ballot.status != Ballot.Status.OPEN:
        raise PermissionDenied
    ballot_close(actor=request.user, ballot=ballot)
    return redirect("bargaining:ballot_detail", code=ballot.code)


urlpatterns: list[URLPattern] = [
    path("<uuid:code>/ballots/new/", ballot_new, name="ballot_new"),
    path("ballots/<uuid:code>/", ballot_detail, name="ballot_detail"),
    path("ballots/<uuid:code>/vote/", ballot_vote, name="ballot_vote"),
    path("ballots/<uuid:code>/close/", ballot_end, name="ballot_close"),
]
