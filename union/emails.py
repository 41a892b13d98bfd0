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
    hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("testserver", "*")]
    scheme = "https" if settings.PRODUCTION else "http"
    host = hosts[0] if hosts else "127.0.0.1"
    port = "" if settings.PRODUCTION or host not in ("127.0.0.1", "localhost") else ":8000"
    return f"{scheme}://{host}{port}{path}"


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
