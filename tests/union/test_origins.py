"""WebSockets only from the site's own origins: scheme, host and port (union/origins.py).

Each socket carries a valid session cookie, as a hijacking page's socket would (the browser
attaches it), and goes through the real ASGI application. A refused socket is never accepted:
the handshake gets a refusal, so `connect()` answers False.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client, override_settings

from membership.models import User
from tests.base import login_as
from tests.factories import make_user
from union.asgi import application
from union.origins import origin_allowed, parse_origin, site_origins

ROOT = Path(__file__).resolve().parents[2]
PATH = "/ws/notifications/"


def cookie_of(user: User) -> bytes:
    client = login_as(Client(), user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def handshake(cookie: bytes, *origins: bytes) -> bool:
    """Whether the socket was accepted and left open (the consumer's own checks passed too)."""

    async def scenario() -> bool:
        headers = [(b"origin", origin) for origin in origins] + [(b"cookie", cookie)]
        communicator = WebsocketCommunicator(application, PATH, headers=headers)
        connected, _ = await communicator.connect()
        if connected:
            await communicator.send_json_to({"type": "ping"})
            assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}
        await communicator.disconnect()
        return connected

    return async_to_sync(scenario)()


@pytest.fixture
def cookie(transactional_db: None) -> bytes:
    return cookie_of(make_user("amani"))


@pytest.mark.django_db(transaction=True)
class TestTheSitesOwnOrigin:
    """Tests run with the development settings: TESSERA_SITE_URL is http://127.0.0.1:$PORT."""

    def test_a_page_of_the_site_opens_a_socket(self, cookie: bytes) -> None:
        assert handshake(cookie, settings.TESSERA_SITE_URL.encode())

    def test_the_development_servers_other_name_is_the_same_site(self, cookie: bytes) -> None:
        port = os.environ.get("PORT", "").strip() or "8000"
        assert handshake(cookie, f"http://localhost:{port}".encode())

    @pytest.mark.parametrize(
        "origin",
        [
            "https://127.0.0.1:{port}",  # wrong scheme
            "http://127.0.0.1:{other}",  # wrong port
            "http://127.0.0.1",  # wrong port (80)
            "http://127.0.0.2:{port}",  # wrong host
            "http://testserver",  # an allowed host name, but not an origin of this site
            "null",  # sandboxed frame, file: page
            "",
            "http://127.0.0.1:{port}/path",  # not an origin
            "http://user@127.0.0.1:{port}",
        ],
    )
    def test_any_other_origin_is_refused(self, cookie: bytes, origin: str) -> None:
        port = os.environ.get("PORT", "").strip() or "8000"
        value = origin.format(port=port, other=int(port) + 1)
        if f"http://127.0.0.1:{port}" != settings.TESSERA_SITE_URL:
            pytest.skip("TESSERA_SITE_URL is set in the environment: these cases assume the development default")
        assert not handshake(cookie, value.encode())

    def test_a_missing_origin_is_refused(self, cookie: bytes) -> None:
        assert not handshake(cookie)

    def test_two_origin_headers_are_refused(self, cookie: bytes) -> None:
        own = settings.TESSERA_SITE_URL.encode()
        assert not handshake(cookie, own, b"https://evil.example")
        assert not handshake(cookie, b"https://evil.example", own)


@pytest.mark.django_db(transaction=True)
class TestAProductionSite:
    """A site at https://union.example (the default port 443)."""

    @pytest.fixture(autouse=True)
    def _site(self) -> Iterator[None]:
        with override_settings(TESSERA_SOCKET_ORIGINS=["https://union.example", "https://*.union.example"]):
            yield

    def test_its_pages_open_sockets(self, cookie: bytes) -> None:
        assert handshake(cookie, b"https://union.example")
        assert handshake(cookie, b"https://union.example:443")  # the same origin, spelled out
        assert handshake(cookie, b"HTTPS://Union.Example")  # scheme and host are case-insensitive

    @pytest.mark.parametrize(
        "origin",
        [
            b"http://union.example",  # wrong scheme: a page served in clear, e.g. by a network attacker
            b"http://union.example:443",
            b"https://union.example:8443",  # wrong port
            b"https://evil.example",  # wrong host
            b"https://union.example.evil.example",
            b"https://evilunion.example",
            b"https://rooms.union.example",  # a subdomain, even under a wildcard CSRF entry
            b"null",
            b"union.example",
            b"ws://union.example",
        ],
    )
    def test_other_origins_are_refused(self, cookie: bytes, origin: bytes) -> None:
        assert not handshake(cookie, origin)


def test_parse_origin_keeps_scheme_host_and_port() -> None:
    assert parse_origin("https://Union.Example") == ("https", "union.example", 443)
    assert parse_origin("http://[::1]:8000") == ("http", "::1", 8000)
    assert parse_origin("https://union.example:99999") is None
    assert parse_origin("https://union.example/tessera") is None
    assert parse_origin("https://union.example/tessera", exact=False) == ("https", "union.example", 443)


def test_configured_wildcards_and_non_urls_trust_no_socket() -> None:
    allowed = site_origins(["https://union.example/tessera/", "https://*.example.org", "not a url"])
    assert allowed == frozenset({("https", "union.example", 443)})
    assert origin_allowed([(b"Origin", b"https://union.example")], allowed)
    assert not origin_allowed([(b"origin", "https://union.example\u00e9".encode())], allowed)


def _b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _socket_origins(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("TESSERA_") and k not in ("PORT", "DATABASE_URL", "REDIS_URL")}
    clean.update(env)
    probe = "from django.conf import settings; print(' '.join(settings.TESSERA_SOCKET_ORIGINS))"
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", probe], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip().splitlines()[-1].split()


def test_the_origins_follow_the_settings() -> None:
    # Development: where `make run` serves, under both names of the loopback address.
    assert set(_socket_origins(PORT="8123")) == {"http://127.0.0.1:8123", "http://localhost:8123"}
    # Production: the site's address and the trusted origins, nothing else.
    production = {
        "TESSERA_ENV": "production", "TESSERA_SECRET_KEY": secrets.token_urlsafe(60),
        "TESSERA_ALLOWED_HOSTS": "union.example", "TESSERA_DATA_KEYS": f"k1:{_b64key()}",
        "TESSERA_BLIND_INDEX_KEY": _b64key(),
        "DATABASE_URL": "sqlite:////nonexistent/tessera-test.sqlite3", "PORT": "8123",
    }
    assert _socket_origins(**production) == ["https://union.example"]
    assert _socket_origins(**production, TESSERA_SITE_URL="https://tessera.union.example",
                           TESSERA_CSRF_TRUSTED_ORIGINS="https://union.example") == [
        "https://tessera.union.example", "https://union.example"]
