"""One small function per email. Emails carry no sensitive content: only a nudge and a link.

An email crosses servers we do not control and may be read by an employer that runs the worker's
mailbox or phone. So no email says "union", names a case, or repeats anything the worker typed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _


def _site_url(path: str) -> str:
    return settings.TESSERA_SITE_URL + path


def account_news(user: Any) -> None:
    """Tell a user that something changed for them, without saying what."""
    if not user.email:
        return
    with translation.override(user.language or "en"):
        subject = _("%(site)s: there is news for you") % {"site": settings.TESSERA_SITE_NAME}
        body = _("Something changed on your %(site)s account. Log in to see it:\n\n%(url)s\n") % {
            "site": settings.TESSERA_SITE_NAME, "url": _site_url(reverse("account:login")),
        }
    send_mail(subject, body, None, [user.email])


def membership_decision(user: Any, *, verified: bool) -> None:
    """The outcome of an application. Deliberately the same neutral nudge either way."""
    account_news(user)


def join_confirm(*, email: str, language: str, token: str) -> None:
    """The link that confirms a sign-up. Says nothing of what was signed."""
    with translation.override(language or "en"):
        subject = _("%(site)s: confirm your email address") % {"site": settings.TESSERA_SITE_NAME}
        body = _(
            "Someone, probably you, used this address to sign up on %(site)s. "
            "Open this link within three days to confirm it:\n\n%(url)s\n\n"
            "If it was not you, ignore this email.\n"
        ) % {"site": settings.TESSERA_SITE_NAME,
             "url": _site_url(reverse("membership:join_confirm", kwargs={"token": token}))}
    send_mail(subject, body, None, [email])


def join_already_signed(*, email: str, language: str) -> None:
    """Someone tried to sign up again with an address that already has an account."""
    with translation.override(language or "en"):
        subject = _("%(site)s: you already have an account") % {"site": settings.TESSERA_SITE_NAME}
        body = _(
            "Someone, probably you, tried to sign up on %(site)s with this address, which already "
            "has an account. Nothing was changed. Log in instead:\n\n%(url)s\n\n"
            "Forgot your password? You can reset it from the login page. "
            "If it was not you, ignore this email.\n"
        ) % {"site": settings.TESSERA_SITE_NAME, "url": _site_url(reverse("account:login"))}
    send_mail(subject, body, None, [email])


def email_change_confirm(*, email: str, language: str, token: str) -> None:
    """The link that moves an account to a new address; sent to the new address only."""
    with translation.override(language or "en"):
        subject = _("%(site)s: confirm your new email address") % {"site": settings.TESSERA_SITE_NAME}
        body = _(
            "Someone, probably you, asked to use this address for an account on %(site)s. "
            "Open this link within three days to confirm it:\n\n%(url)s\n\n"
            "If it was not you, ignore this email: nothing changes.\n"
        ) % {"site": settings.TESSERA_SITE_NAME,
             "url": _site_url(reverse("membership:me_email_confirm", kwargs={"token": token}))}
    send_mail(subject, body, None, [email])


def email_change_taken(*, email: str, language: str) -> None:
    """Someone asked to move their account to an address that already has one."""
    with translation.override(language or "en"):
        subject = _("%(site)s: this address already has an account") % {"site": settings.TESSERA_SITE_NAME}
        body = _(
            "Someone, probably you, asked to use this address for another account on %(site)s. "
            "This address already has an account, so nothing was changed. To use it, log in with it:\n\n"
            "%(url)s\n\nIf it was not you, ignore this email.\n"
        ) % {"site": settings.TESSERA_SITE_NAME, "url": _site_url(reverse("account:login"))}
    send_mail(subject, body, None, [email])
