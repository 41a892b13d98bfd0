"""Keys under which django-axes counts failed logins, hashed so its tables hold no identities.

Axes stores the username and the client address of every failed attempt. Typed usernames are
often email addresses, and a worker's address can place them; both become keyed hashes here.
The address keeps the shape of an IP address (a unique-local IPv6 one) because axes stores it in
an address column.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from django.http import HttpRequest

from union import crypto

OMITTED = "-"


def username_key(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    raw = (credentials or {}).get("username")
    if raw is None:
        raw = request.POST.get("username", "")
    value = crypto.normalize(str(raw))
    if not value:
        return ""
    # Count failures per account, however it was named (handle or email, any case), so that
    # switching between the two does not buy an attacker more guesses.
    from membership.backends import find_user

    user = find_user(value)
    subject = f"user:{user.pk}" if user is not None else f"name:{value}"
    return "u-" + crypto.blind_index(subject, purpose="login")[:40]


def address_key(request: HttpRequest) -> str:
    # Behind the proxy, Daphne's --proxy-headers puts the real client into REMOTE_ADDR.
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    digest = hmac.new(crypto.derived_key("lockout-address"), remote.encode(), hashlib.sha256).digest()
    return str(ipaddress.IPv6Address(b"\xfd" + digest[:15]))


class PrivateAxesHandler(AxesDatabaseHandler):
    """Axes' database handler, minus what would place a worker: the browser and where they were going.

    Axes keeps, with every failed login, the User-Agent (255 characters: phone model, OS build,
    often enough to single out one worker at a vendor), the Accept header, and the query string
    (`?next=/roll/<local>/...` says which page they wanted). The lockout needs none of them: it is
    keyed on the hashed account and address. They are replaced by a fixed placeholder before axes
    writes its row, and `next` is masked in the stored query strings (AXES_SENSITIVE_PARAMETERS).
    """

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        if request is not None:
            AxesProxyHandler.update_request(request)
            request.axes_user_agent = OMITTED
            request.axes_http_accept = OMITTED
        super().user_login_failed(sender, credentials, request, **kwargs)
