"""Joining: the public join page and its QR code, invitations, confirming the email, the card.

Whatever the join form's outcome (a new sign-up or an address that has already signed), a valid
submission gets the same redirect and the same page, so the form reveals nobody's membership.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from membership import throttle
from membership.cards import card_pdf
from membership.forms_join import JoinForm
from membership.models import Invitation, Member, Union, UnionCard
from membership.permissions import access_inviting_member, access_own_card
from membership.services import (
    INVITATION_DAYS,
    HandleTaken,
    MembershipError,
    card_revoke,
    current_card_text,
    invitation_create,
    invitation_find,
    join_submit,
    join_unconfirmed_member,
    member_confirm_email,
)
from membership.types import AuthedHttpRequest
from union.pdf import pdf_response
from union.timing import equal_time_post

SENSITIVE = ("password", "legal_name", "email", "phone")


def _union(slug: str) -> Union:
    return get_object_or_404(Union, slug=slug)


def _qr_svg(url: str) -> bytes:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def _member_in(user: Any, union: Union) -> Member | None:
    if not user.is_authenticated:
        return None
    return Member.objects.filter(user=user, union=union).first()


@never_cache
@sensitive_post_parameters(*SENSITIVE)
@require_http_methods(["GET", "POST"])
@equal_time_post
def join(request: HttpRequest, slug: str) -> HttpResponse:
    return _join(request, _union(slug), invitation=None)


@never_cache
@sensitive_post_parameters(*SENSITIVE)
@require_http_methods(["GET", "POST"])
@equal_time_post
def join_invited(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    union = _union(slug)
    invitation = invitation_find(union=union, token=token)
    if invitation is None:
        return render(request, "membership/join/invitation_invalid.html", {"union": union}, status=404)
    return _join(request, union, invitation=invitation)


def _join(request: HttpRequest, union: Union, *, invitation: Invitation | None) -> HttpResponse:
    language = translation.get_language() or "en"
    card_text = current_card_text(union, language)
    context: dict[str, Any] = {"union": union, "card_text": card_text, "invitation": invitation,
                               "existing": _member_in(request.user, union), "now": timezone.now()}
    if card_text is None or context["existing"] is not None:
        return render(request, "membership/join/form.html", context)
    # An invitation comes from a member: it is not counted against the address (an office
    # behind one NAT address can always join that way), only against the union's ceiling.
    if request.method == "POST" and invitation is None and not throttle.address_allowed(request):
        return render(request, "membership/join/paused.html", {"union": union, "reason": "address"}, status=429)
    form = JoinForm(request.POST or None, union=union, local=invitation.local if invitation else None)
    if request.method == "POST" and form.is_valid():
        if not throttle.union_allowed(union) and invitation is None:
            return render(request, "membership/join/paused.html", {"union": union, "reason": "union"}, status=429)
        data = form.cleaned_data
        try:
            join_submit(
                union=union, local=data["local_obj"], unit=data["unit_obj"], handle=data["handle"],
                password=data["password"], pseudonym=data["pseudonym"], legal_name=data["legal_name"],
                email=data["email"], phone=data["phone"], languages=data["languages"], card_text=card_text,
                consents=form.consents(), language=language, invitation=invitation,
            )
        except HandleTaken as error:
            form.add_error("handle", str(error))
        else:
            return redirect("membership:join_sent", slug=union.slug)
    context["form"] = form
    return render(request, "membership/join/form.html", context, status=400 if form.errors else 200)


@require_GET
def join_sent(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "membership/join/sent.html", {"union": _union(slug)})


@require_GET
def join_qr(request: HttpRequest, slug: str) -> HttpResponse:
    union = _union(slug)
    url = request.build_absolute_uri(reverse("membership:join", kwargs={"slug": union.slug}))
    return HttpResponse(_qr_svg(url), content_type="image/svg+xml")


@require_GET
def join_invite_card(request: HttpRequest, slug: str) -> HttpResponse:
    union = _union(slug)
    url = request.build_absolute_uri(reverse("membership:join", kwargs={"slug": union.slug}))
    return render(request, "membership/join/invite_card.html", {"union": union, "url": url, "copies": range(6)})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def join_invite(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """A member makes a personal invitation; its link is shown once, in the answer to the POST."""
    union = _union(slug)
    member = access_inviting_member(request.user, union)
    context: dict[str, Any] = {"union": union, "days": INVITATION_DAYS}
    if request.method == "POST":
        _invitation, token = invitation_create(inviter=member)
        url = request.build_absolute_uri(
            reverse("membership:join_invited", kwargs={"slug": union.slug, "token": token}))
        context.update(url=url, qr=base64.b64encode(_qr_svg(url)).decode("ascii"))
    return render(request, "membership/join/invite.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def join_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that follow links must not confirm."""
    member = join_unconfirmed_member(token)
    if member is None:
        return render(request, "membership/join/confirm_invalid.html", status=404)
    if request.method == "POST":
        try:
            member_confirm_email(member=member)
        except MembershipError:
            return render(request, "membership/join/confirm_invalid.html", status=404)
        messages.success(request, _("Your signature is confirmed. Log in to see your card."))
        return redirect("account:login")
    return render(request, "membership/join/confirm.html", {"union": member.union})


@never_cache
@login_required
@require_GET
def join_cards(request: AuthedHttpRequest) -> HttpResponse:
    cards = UnionCard.objects.filter(member__user=request.user).select_related("member__union")
    return render(request, "membership/join/cards.html", {"cards": cards})


@never_cache
@login_required
@require_GET
def join_card(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    card = access_own_card(request.user, code)
    return render(request, "membership/join/card.html", {"card": card, "signed": card.signed})


@never_cache
@login_required
@require_GET
def join_card_pdf(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    card = access_own_card(request.user, code)
    # Stored in the document layer the first time, then the same bytes each time (membership/cards.py).
    return pdf_response(card_pdf(actor=request.user, card=card), filename=f"card-{card.signed_at:%Y-%m-%d}.pdf")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def join_card_revoke(request: AuthedHttpRequest, code: Any) -> HttpResponse:
    card = access_own_card(request.user, code)
    if request.method == "POST" and card.revoked_at is None:
        card_revoke(actor=request.user, card=card)
        messages.success(request, _("Your card is revoked. It no longer counts as a signature."))
        return redirect("membership:join_card", code=card.code)
    return render(request, "membership/join/card_revoke.html", {"card": card})


urlpatterns: list[URLPattern] = [
    path("j/<slug:slug>/", join, name="join"),
    path("j/<slug:slug>/i/<str:token>/", join_invited, name="join_invited"),
    path("j/<slug:slug>/sent/", join_sent, name="join_sent"),
    path("j/<slug:slug>/qr.svg", join_qr, name="join_qr"),
    path("j/<slug:slug>/card/", join_invite_card, name="join_invite_card"),
    path("j/<slug:slug>/invite/", join_invite, name="join_invite"),
    path("join/confirm/<str:token>/", join_confirm, name="join_confirm"),
    path("cards/", join_cards, name="join_cards"),
    path("cards/<uuid:code>/", join_card, name="join_card"),
    path("cards/<uuid:code>/pdf/", join_card_pdf, name="join_card_pdf"),
    path("cards/<uuid:code>/revoke/", join_card_revoke, name="join_card_revoke"),
]
