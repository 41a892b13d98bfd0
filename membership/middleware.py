"""Officers and staff reach nothing but the two-factor pages until they have verified a code."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from membership.selectors import needs_two_factor

# Pages an officer may see before verifying: the two-factor pages themselves, logging out,
# choosing a language, health checks and static files.
EXEMPT_URL_NAMES = (
    "account:two_factor_setup",
    "account:two_factor_verify",
    "account:two_factor_qr",
    "account:logout",
    "set_language",
    "healthz",
)


class OfficerTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._exempt: tuple[str, ...] | None = None

    def exempt_paths(self) -> tuple[str, ...]:
        if self._exempt is None:
            self._exempt = tuple(reverse(name) for name in EXEMPT_URL_NAMES)
        return self._exempt

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            # django-otp's OTPMiddleware (before this one) gives the user is_verified() at run time.
            and not user.is_verified()  # type: ignore[attr-defined]
            and not request.path.startswith("/static/")
            and request.path not in self.exempt_paths()
            and needs_two_factor(user)
        ):
            from django_otp import devices_for_user

            enrolled = any(True for _ in devices_for_user(user, confirmed=True))
            target = "account:two_factor_verify" if enrolled else "account:two_factor_setup"
            return redirect(f"{reverse(target)}")
        return self.get_response(request)
