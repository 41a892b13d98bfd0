"""Logging in and out, passwords, two-factor enrollment and verification, ending sessions."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import devices_for_user
from django_otp import login as otp_login

from membership.devices import Authenticator, BackupCodeDevice
from membership.forms import EmailPasswordResetForm, LoginForm, TokenForm
from membership.models import User
from membership.selectors import backup_codes_left, has_authenticator, needs_two_factor, pending_authenticator
from membership.services import two_factor_confirm, two_factor_start, user_end_sessions, user_password_changed
from membership.types import AuthedHttpRequest
from union.realtime import recheck_sockets_on_commit
from union.timing import equal_time_post

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PENDING_KEY = "tessera_pending_login"
PENDING_SECONDS = 300


def _safe_next(request: HttpRequest, value: str | None) -> StrOrPromise:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure()):
        return value
    return reverse_lazy("home")


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=pending["uid"], is_active=True).first()
    if user is not None:
        # Django's authenticate() sets `backend` on the user at run time; django-stubs does not declare it.
        user.backend = pending["backend"]  # type: ignore[attr-defined]
    return user


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
# Both kinds hash once (test_equal_work), yet a known handle or email with a wrong password
# answered about 10 ms slower than an unknown one (Argon2, SQLite, median of 15-25): padded too.
@equal_time_post
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next")
    if request.user.is_authenticated:
        return redirect(_safe_next(request, next_url))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=form.cleaned_data["username"], password=form.cleaned_data["password"])
        if user is not None:
            if any(True for _d in devices_for_user(user, confirmed=True)):
                # The password was right; the session becomes the user's only after the code.
                request.session.cycle_key()
                # `backend` is set by authenticate() at run time; django-stubs does not declare it.
                request.session[PENDING_KEY] = {"uid": user.pk, "backend": user.backend,  # type: ignore[attr-defined]
                                                "at": time.time(),
                                                "next": str(_safe_next(request, next_url))}
                return redirect("account:two_factor_verify")
            login(request, user)
            return redirect(_safe_next(request, next_url))
        form.add_error(None, _("That handle or email and password do not match an active account."))
    return render(request, "account/login.html", {"form": form, "next": next_url or ""},
                  status=400 if form.errors else 200)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk if request.user.is_authenticated else None
    logout(request)
    if user_id is not None:
        # After the session row is gone: this session's sockets close now, not at the next tick.
        recheck_sockets_on_commit(user_id)
    messages.info(request, _("You have logged out."))
    return redirect("account:login")


@never_cache
@login_required
def account(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "has_two_factor": any(True for _d in devices_for_user(user, confirmed=True)),
        "needs_two_factor": needs_two_factor(user),
        "backup_codes_left": backup_codes_left(user),
    }
    return render(request, "account/account.html", context)


@never_cache
@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: AuthedHttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        user_password_changed(user=user)
        messages.success(request, _("Your password has been changed."))
        return redirect("account:home")
    return render(request, "account/password_change.html", {"form": form}, status=400 if form.errors else 200)


password_reset = never_cache(equal_time_post(auth_views.PasswordResetView.as_view(
    form_class=EmailPasswordResetForm,
    template_name="account/password_reset.html",
    email_template_name="emails/password_reset.txt",
    subject_template_name="emails/password_reset_subject.txt",
    success_url=reverse_lazy("account:password_reset_done"),
)))
password_reset_sent = auth_views.PasswordResetDoneView.as_view(template_name="account/password_reset_sent.html")
class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Audited like a change, and every open socket of the old sessions closes at once.
        user_password_changed(user=form.user)
        return response


password_reset_confirm = PasswordResetConfirm.as_view(
    template_name="account/password_reset_confirm.html",
    success_url=reverse_lazy("account:password_reset_complete"),
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="account/password_reset_complete.html"
)


@login_required
@require_POST
def logout_everywhere(request: AuthedHttpRequest) -> HttpResponse:
    user_end_sessions(actor=request.user, user=request.user, reason="user request")
    logout(request)
    messages.info(request, _("You have been logged out on every device, this one included."))
    return redirect("account:login")


def _unconfirmed_device(user: User) -> Authenticator:
    return pending_authenticator(user) or two_factor_start(user=user)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: AuthedHttpRequest) -> HttpResponse:
    user = request.user
    if has_authenticator(user):
        return render(request, "account/two_factor_enabled.html")
    device = _unconfirmed_device(user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["otp_token"]):
            codes = two_factor_confirm(user=user, device=device)
            otp_login(request, device)
            return render(request, "account/backup_codes.html", {"codes": codes})
        form.add_error("otp_token", _("That code is not right. Check the time on your phone and try again."))
    secret = device.config_url.split("secret=")[1].split("&")[0]
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(request, "account/two_factor_setup.html", {"form": form, "secret": grouped},
                  status=400 if form.errors else 200)


@never_cache
@login_required
def two_factor_qr(request: AuthedHttpRequest) -> HttpResponse:
    device = pending_authenticator(request.user)
    if device is None:
        return HttpResponse(status=404)
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


@never_cache
@sensitive_post_parameters("otp_token")
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    pending = None if request.user.is_authenticated else _pending_user(request)
    user = request.user if request.user.is_authenticated else pending
    if user is None:
        return redirect("account:login")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = _match_token(user, form.cleaned_data["otp_token"])
        if device is not None:
            next_url = "home"
            if pending is not None:
                next_url = request.session.pop(PENDING_KEY)["next"]
                login(request, pending)
            otp_login(request, device)
            return redirect(next_url)
        form.add_error("otp_token", _("That code is not right, or too many tries were made: wait a moment."))
    return render(request, "account/two_factor_verify.html", {"form": form}, status=400 if form.errors else 200)


@transaction.atomic
def _match_token(user: User, token: str) -> Authenticator | BackupCodeDevice | None:
    # Every device throttles its own failures (django-otp doubles the wait after each one).
    for device in devices_for_user(user, confirmed=True, for_verify=True):
        if device.verify_token(token):
            return device
    return None


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, which also remembers the choice on the account (for emails)."""
    from django.conf import settings
    from django.views.i18n import set_language as django_set_language

    response = django_set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code in dict(settings.LANGUAGES) and request.user.language != code:
        User.objects.filter(pk=request.user.pk).update(language=code)
    return response
