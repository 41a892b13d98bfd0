"""Browser security: headers on every page, HSTS and secure cookies in production, and sources
that a strict Content-Security-Policy will not break (no inline code, nothing from other origins).

Production values come from the real settings module evaluated under TESSERA_ENV=production in a
subprocess; they are then applied to the test settings so the real middleware is exercised.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.test import Client
from pytest_django import Settings

from tests.base import Personas
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["/", "/account/login/", "/no-such-page/"]

PRODUCTION_SETTINGS = (
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "LANGUAGE_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
)


@pytest.fixture(scope="module")
def production_values() -> dict[str, object]:
    """The security settings union/settings.py produces in production mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k != "DATABASE_URL"}
    env.update(
        TESSERA_ENV="production",
        TESSERA_SECRET_KEY=secrets.token_urlsafe(60),
        TESSERA_DATA_KEYS="k2026a:" + "A" * 43 + "=",
        TESSERA_BLIND_INDEX_KEY="B" * 43 + "=",
        TESSERA_ALLOWED_HOSTS="tessera.example",
    )
    code = f"import json, union.settings as s; print(json.dumps({{n: getattr(s, n) for n in {PRODUCTION_SETTINGS!r}}}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    values = json.loads(result.stdout)
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


@pytest.fixture
def production(settings: Settings, production_values: dict[str, object]) -> dict[str, object]:
    for name, value in production_values.items():
        setattr(settings, name, value)
    return production_values


def _csp(response: TestResponse) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    policy: dict[str, list[str]] = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        assert name not in policy, f"directive {name} appears twice"
        policy[name] = values
    return policy


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_sends_a_strict_content_security_policy(client: Client, path: str) -> None:
    response = client.get(path)
    assert "Content-Security-Policy-Report-Only" not in response
    policy = _csp(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    for name, values in policy.items():
        for value in values:
            assert "unsafe" not in value and value != "*", f"{name} allows {value}"
            assert not value.startswith(("http:", "https:", "//")), f"{name} allows another origin: {value}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
def test_it_sends_the_other_security_headers(client: Client, path: str) -> None:
    response = client.get(path)
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    # Development and tests run over plain http: no HSTS there.
    assert "Strict-Transport-Security" not in response


def test_production_mode_turns_the_transport_protections_on(production_values: dict[str, object]) -> None:
    assert production_values["SECURE_HSTS_SECONDS"] >= 31536000  # type: ignore[operator]
    assert production_values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production_values["SECURE_SSL_REDIRECT"] is True
    assert production_values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.django_db
def test_it_sends_hsts_on_https_in_production(client: Client, production: dict[str, object]) -> None:
    response = client.get("/", secure=True)
    assert response.status_code == 200
    hsts = response["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains(; preload)?", hsts)
    assert int(re.match(r"max-age=(\d+)", hsts).group(1)) >= 31536000  # type: ignore[union-attr]


@pytest.mark.django_db
def test_it_trusts_the_proxy_for_https_and_redirects_plain_http(client: Client, production: dict[str, object]) -> None:
    # nginx sets X-Forwarded-Proto (deploy/nginx.conf); Daphne itself only ever sees http.
    proxied = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200
    assert "Strict-Transport-Security" in proxied
    plain = client.get("/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/"
    assert "Strict-Transport-Security" not in plain


@pytest.mark.django_db
def test_cookies_are_secure_and_httponly_in_production(
    client: Client, production: dict[str, object], personas: Personas
) -> None:
    page = client.get("/account/login/", secure=True)
    csrf = page.cookies[django_settings.CSRF_COOKIE_NAME]
    assert csrf["secure"] is True and csrf["httponly"] is True and csrf["samesite"] == "Lax"

    logged_in = client.post(
        "/account/login/", {"username": personas.member.handle, "password": PASSWORD}, secure=True
    )
    assert logged_in.status_code == 302, "the member could not log in"
    session = logged_in.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session.value
    assert session["secure"] is True and session["httponly"] is True and session["samesite"] == "Lax"

    language = client.post("/i18n/setlang/", {"language": "fr", "next": "/"}, secure=True)
    assert language.cookies[django_settings.LANGUAGE_COOKIE_NAME]["secure"] is True


# --- Sources: what a strict CSP would block, and anything fetched from another origin -----------

# Documented exceptions: (path relative to the project, regex of the allowed text, reason).
ALLOWED: list[tuple[str, str, str]] = [
    (
        "*.svg",
        r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"',
        "XML namespace names are identifiers that browsers never fetch",
    ),
    (
        "*.js",
        r'"http://www\.w3\.org/2000/svg"',
        "the SVG namespace name for document.createElementNS, an identifier browsers never fetch",
    ),
]
LICENCE_NAME = re.compile(r"(^|[-_.])(LICEN[CS]E|COPYING|NOTICE|OFL|AUTHORS)([-_.]|$)", re.IGNORECASE)
TEXT_SUFFIXES = {".html", ".txt", ".xml", ".svg", ".css", ".js", ".mjs", ".json", ".webmanifest"}


def _our_dirs(kind: str) -> list[Path]:
    dirs = [Path(p) for p in (django_settings.TEMPLATES[0]["DIRS"] if kind == "templates" else
                              django_settings.STATICFILES_DIRS)]
    for config in apps.get_app_configs():
        path = Path(config.path) / kind
        if path.is_dir() and ROOT in path.parents and ".venv" not in path.parts:
            dirs.append(path)
    return dirs


def _source_files() -> list[Path]:
    files = []
    for directory in _our_dirs("templates") + _our_dirs("static"):
        for path in sorted(directory.rglob("*")):
            if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES and not LICENCE_NAME.search(path.name):
                files.append(path)
    return files


def _without_comments(text: str, suffix: str) -> str:
    text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", "", text, flags=re.DOTALL)
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    if suffix in (".css", ".js", ".mjs"):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    if suffix in (".js", ".mjs"):
        text = re.sub(r"(^|\s)//[^\n]*", r"\1", text)
    return text


def _allowed(path: Path, text: str) -> str:
    for pattern, allowed, _reason in ALLOWED:
        if path.match(pattern):
            text = re.sub(allowed, "", text)
    return text


TAG = re.compile(r"<[a-zA-Z][^<>]*>")
OTHER_ORIGIN = re.compile(
    r"https?://|\b(?:src|href|action|formaction|srcset|poster|data|xlink:href)\s*=\s*[\"']?//|url\(\s*[\"']?//"
    r"|@import\s+[\"']?//",
    re.IGNORECASE,
)

if TYPE_CHECKING:
    from tests.base import TestResponse


def _problems(path: Path) -> list[str]:
    text = _allowed(path, _without_comments(path.read_text(encoding="utf-8"), path.suffix.lower()))
    found = []
    if path.suffix.lower() in (".html", ".svg", ".xml"):
        for match in re.finditer(r"<script\b[^>]*>(.*?)</script\s*>", text, re.DOTALL | re.IGNORECASE):
            if match.group(1).strip():
                found.append(f"inline <script> body: {match.group(0)[:60]!r}")
        if re.search(r"<style\b", text, re.IGNORECASE):
            found.append("inline <style> element")
        for tag in TAG.findall(text):
            if re.search(r"\sstyle\s*=", tag, re.IGNORECASE):
                found.append(f"style= attribute: {tag[:60]!r}")
            if re.search(r"\son[a-z]+\s*=", tag, re.IGNORECASE):
                found.append(f"on*= event handler attribute: {tag[:60]!r}")
    for match in OTHER_ORIGIN.finditer(text):
        found.append(f"URL to another origin: {text[match.start():match.start() + 60]!r}")
    return found


def test_the_scanner_finds_the_project_sources() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in _source_files()}
    assert {"templates/base.html", "static/css/tessera.css"} <= names


def test_the_scanner_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<script>alert(1)</script><p style="color:red">x</p><a onclick="go()">y</a>'
        '<img src="https://cdn.example/a.png"><link href="//cdn.example/x.css"><style>p{}</style>'
        '{# https://commented.example #}<!-- <script>ok()</script> -->'
    )
    problems = _problems(bad)
    assert len(problems) == 6, problems
    svg = tmp_path / "icon.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><image href="http://tracker.example/p.png"/></svg>')
    assert len(_problems(svg)) == 1
    good = tmp_path / "good.html"
    good.write_text('<script src="/static/js/x.js"></script><p class="on">Log on = now</p>{{ protocol }}://{{ domain }}')
    assert _problems(good) == []


@pytest.mark.parametrize("path", _source_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_source_needs_unsafe_inline_or_another_origin(path: Path) -> None:
    assert _problems(path) == []
