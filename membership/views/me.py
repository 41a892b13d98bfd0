"""Membership pages: the member's own record, data export, resigning and erasure (urls at the bottom)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from membership.forms_me import ConfirmForm, EraseForm, ProfileForm
from membership.models import Member
from membership.permissions import access_own_member
from membership.self_service import (
    ContactUnavailable,
    PseudonymTooClose,
    email_change_member,
    member_confirm_new_email,
    member_erase,
    member_export,
    member_resign,
    member_update_profile,
)
from membership.services import MembershipError
from membership.time_zones import TimeZoneForm
from membership.types import AuthedHttpRequest
from union.timing import equal_time_post


def _own_member(request: AuthedHttpRequest) -> Member:
    """The member record of the logged-in account; 404 for accounts without one (or erased)."""
    return access_own_member(request.user)


def _card_url(card_code: object) -> str:
    """The card's own page, when the joining area provides one (it owns `membership:join_card`)."""
    try:
        return reverse("membership:join_card", kwargs={"code": card_code})
    except NoReverseMatch:
        return ""


@never_cache
@login_required
@require_GET
def home(request: AuthedHttpRequest) -> HttpResponse:
    member = _own_member(request)
    cards = [(card, _card_url(card.code)) for card in member.cards.all()]
    return render(request, "membership/me/home.html", {"member": member, "cards": cards})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@equal_time_post
def edit(request: AuthedHttpRequest) -> HttpResponse:
    member = _own_member(request)
    form = ProfileForm(request.POST if request.method == "POST" else None, member=member, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            update = member_update_profile(actor=request.user, member=member, **form.cleaned_data)
        except PseudonymTooClose as exc:
            form.add_error("pseudonym", str(exc))
        except ContactUnavailable as exc:
            form.add_error(None, _(str(exc)))
        else:
            messages.success(request, _("Your details have been saved."))
            if update.email_sent:
                messages.info(request, _("We sent a message to the new email address. Your email changes "
                                         "when you open the link in it, within three days."))
            response = redirect("membership:me_home")
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, form.cleaned_data["ui_language"],
                                max_age=365 * 24 * 3600, secure=settings.LANGUAGE_COOKIE_SECURE,
                                # django-stubs types this setting as str, its own set_cookie() wants a Literal.
                                samesite=settings.LANGUAGE_COOKIE_SAMESITE)  # type: ignore[arg-type]
            return response
    return render(request, "membership/me/edit.html", {"form": form, "time_zone_form": TimeZoneForm(user=request.user)},
                  status=400 if form.errors else 200)


@never_cache
@login_required
@require_GET
def export(request: AuthedHttpRequest) -> HttpResponse:
    member = _own_member(request)
    data = member_export(actor=request.user, member=member)
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="tessera-my-data-{stamp}.json"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def resign(request: AuthedHttpRequest) -> HttpResponse:
    member = _own_member(request)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            member_resign(actor=request.user, member=member)
        except MembershipError as exc:
            form.add_error(None, _(str(exc)))
        else:
            messages.success(request, _("You have resigned from the union. You can sign a new card to rejoin."))
            return redirect("membership:me_home")
    return render(request, "membership/me/resign.html", {"form": form, "member": member},
                  status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
def erase(request: AuthedHttpRequest) -> HttpResponse:
    member = _own_member(request)
    form = EraseForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        member_erase(actor=request.user, member=member)
        logout(request)
        messages.success(request, _("Your account and your personal data have been erased."))
        return redirect("home")
    return render(request, "membership/me/erase.html", {"form": form}, status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST moves the account to the new address (mail scanners only GET).

    No login needed: the link itself proves the new address is the member's.
    """
    member = email_change_member(token)
    if member is None:
        return render(request, "membership/join/confirm_invalid.html", status=404)
    if request.method == "POST":
        try:
            member_confirm_new_email(member=member)
        except ContactUnavailable as exc:
            return render(request, "membership/me/email_confirm.html", {"error": _(str(exc))}, status=400)
        except MembershipError:
            return render(request, "membership/join/confirm_invalid.html", status=404)
        messages.success(request, _("Your new email address is confirmed."))
        return redirect("membership:me_home" if request.user.is_authenticated else "account:login")
    return render(request, "membership/me/email_confirm.html", {})


urlpatterns: list[URLPattern] = [
    path("me/email/<str:token>/", email_confirm, name="me_email_confirm"),
    path("me/", home, name="me_home"),
    path("me/edit/", edit, name="me_edit"),
    path("me/export.json", export, name="me_export"),
    path("me/resign/", resign, name="me_resign"),
    path("me/erase/", erase, name="me_erase"),
]
