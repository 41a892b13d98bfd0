"""WebSockets only from the site's own pages: the Origin's scheme, host and port must all match.

Browsers do not apply the same-origin policy to WebSockets, and they send the session cookie with
a socket that any page opens to us. The Origin header is what tells our pages from another site's
(cross-site WebSocket hijacking). Channels' `AllowedHostsOriginValidator` compares only the host
name with ALLOWED_HOSTS, so `http://union.example` (a page an attacker on the network can serve
in clear) or `https://union.example:8443` passed for `https://union.example`. This validator
accepts a socket only when (scheme, host, port) of its Origin equals one of the site's origins:

- `TESSERA_SITE_URL` and each exact origin in `TESSERA_CSRF_TRUSTED_ORIGINS` (a wildcard entry
  such as `https://*.example.org` trusts no socket: sockets need an exact origin);
- in development also `http://127.0.0.1:PORT` and `http://localhost:PORT`, where the development
  server answers (settings.TESSERA_SOCKET_ORIGINS).

A missing Origin, `null` (sandboxed frames, file: pages, some redirects), more than one Origin,
or anything that is not a bare `scheme://host[:port]` is refused. A refused socket gets Channels'
refusal (HTTP 403 to the handshake); it is never accepted, not even to be closed with a code, so
another site's page learns nothing but the refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings

if TYPE_CHECKING:
    from asgiref.typing import ASGIReceiveCallable, ASGISendCallable
    from channels.consumer import _ChannelScope

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def parse_origin(value: str, *, exact: bool = True) -> Origin | None:
    """(scheme, host, port) of a serialized origin, or None if `value` is not exactly one.

    With `exact=False` a path is allowed and ignored: the origin of a configured URL such as
    TESSERA_SITE_URL, which may name a sub-path.
    """
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    # An origin is scheme://host[:port] and nothing more; a browser never sends more.
    if exact and (parts.path or parts.query or parts.fragment):
        return None
    if parts.username is not None:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower().rstrip("."), port if port is not None else DEFAULT_PORTS[scheme]


def site_origins(values: Iterable[str] | None = None) -> frozenset[Origin]:
    """The origins whose pages may open a socket; configured values that are no exact origin are skipped."""
    if values is None:
        values = settings.TESSERA_SOCKET_ORIGINS
    parsed = (parse_origin(value, exact=False) for value in values if "*" not in value)
    return frozenset(origin for origin in parsed if origin is not None)


def origin_allowed(headers: Iterable[tuple[bytes, bytes]], allowed: frozenset[Origin]) -> bool:
    """True when the handshake carries exactly one Origin header and it is one of `allowed`."""
    values = [value for name, value in headers if name.lower() == b"origin"]
    if len(values) != 1:
        return False
    try:
        text = values[0].decode("ascii")
    except UnicodeDecodeError:
        return False
    origin = parse_origin(text)
    return origin is not None and origin in allowed


class SiteOriginValidator:
    """ASGI middleware: refuse a WebSocket whose Origin is not one of the site's own origins."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: _ChannelScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope.get("headers", []), site_origins()):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
