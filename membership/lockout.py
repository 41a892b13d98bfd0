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

from django.http import HttpRequest

from union import crypto


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
