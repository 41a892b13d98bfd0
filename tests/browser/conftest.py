"""Browser tests: Debian's Chromium, driven by Playwright, against a live Daphne in a subprocess.

The server runs the real ASGI application on a fresh database (a SQLite file, or a throwaway
PostgreSQL database when DATABASE_URL points at PostgreSQL), with its own development keys and the
in-memory channel layer, so a browser test sees exactly what a person would. The test process never
touches that database itself: it talks to the server over HTTP only, like a browser.

Every page a test opens is watched: console errors, uncaught page errors, Content Security Policy
violations and requests to any origin other than the live server are recorded, and the test fails
at teardown if there were any (tests may also assert on them earlier, for a clearer message).
Screenshots go to test-artifacts/browser/ at the repository root (ignored by git).
"""

from __future__ import annotations

import email
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.services import chromium_path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 30
COMMAND_SECONDS = 180
CHROMIUM_ARGS = [
    # We run as root in a container, where Chromium's sandbox cannot start.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # The network is closed: keep Chromium from trying to phone home at all.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@dataclass(frozen=True)
class Account:
    handle: str
    password: str
    pseudonym: str


@dataclass(frozen=True)
class Seed:
    """How the live server gets its people: manage.py arguments, and the plain member they create."""

    command: tuple[str, ...]
    member: Account


def _seed_demo() -> Seed:
    from membership.management.commands.seed_demo import DEMO_PASSWORD, PEOPLE

    person = next(person for person in PEOPLE if person[2] == "member")
    return Seed(("seed_demo",), Account(person[0], DEMO_PASSWORD, person[3]))


def _own_member() -> Seed:
    """A fallback that needs no demo data: one plain member in a fresh local, from the test factories."""
    from tests.factories import PASSWORD

    script = "from tests.factories import make_local, make_member; make_member(make_local(), handle='browser-member')"
    return Seed(("shell", "-c", script), Account("browser-member", PASSWORD, "browser-member-p"))


SEED = _seed_demo  # or _own_member, to run without `manage.py seed_demo`


# The two-factor code each officer last used: a code (a 30 s window) works once per user.
_TOTP_USED: dict[str, str] = {}
_CONSOLE_MAIL_END = "-" * 79


@dataclass
class LiveServer:
    url: str
    member: Account
    log: Path
    env: dict[str, str] = field(default_factory=dict)  # the server's environment (DATABASE_URL, keys file...)

    def origin_of(self, url: str) -> bool:
        """True when `url` is on this server (http or its WebSocket twin)."""
        ours, theirs = urlsplit(self.url), urlsplit(url)
        return theirs.scheme in ("http", "ws") and theirs.netloc == ours.netloc

    @property
    def debug(self) -> bool:
        """Whether the server runs with DEBUG (the default in development): Django's own error pages."""
        value = self.env.get("TESSERA_DEBUG", "").strip().lower()
        return value in ("1", "true", "yes", "on") or (not value and self.env.get("TESSERA_ENV") != "production")

    def manage(self, *args: str) -> str:
        """Run `manage.py <args>` against the server's database and keys; return what it printed."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True, text=True,
            timeout=COMMAND_SECONDS, check=False,
        )
        assert done.returncode == 0, f"manage.py {args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def totp(self, handle: str) -> str:
        """A fresh two-factor code for a demo officer, never one already used in this session."""
        while True:
            out = self.manage("demo_totp", handle)
            found = re.match(r"\s*(\d{6})\s+\(valid for (\d+) more seconds\)", out)
            assert found, f"demo_totp printed {out!r}"
            code, left = found.group(1), int(found.group(2))
            # Too close to the end of its window, or this window's code was used: wait for the next one.
            if left >= 4 and _TOTP_USED.get(handle) != code:
                _TOTP_USED[handle] = code
                return code
            time.sleep(left + 0.5)

    def mails_to(self, address: str, *, wait: float = 5.0, count: int = 1) -> list[str]:
        """Bodies of the emails sent to `address`, from the console backend's output in the server log.

        Waits up to `wait` seconds for at least `count` of them.
        """
        deadline = time.monotonic() + wait
        while True:
            bodies = []
            for chunk in self.log.read_bytes().split(_CONSOLE_MAIL_END.encode()):
                start = chunk.find(b"Content-Type: text/plain")
                if start < 0:
                    continue
                message = email.message_from_bytes(chunk[start:].lstrip())
                if address.lower() in (message.get("To") or "").lower():
                    payload = message.get_payload(decode=True)
                    assert isinstance(payload, bytes), "a text/plain part decodes to bytes"
                    bodies.append(payload.decode(message.get_content_charset() or "utf-8", errors="replace"))
            if len(bodies) >= count or time.monotonic() > deadline:
                return bodies
            time.sleep(0.1)

    def database_bytes(self, into: Path) -> bytes:
        """A copy of everything the server's database holds on disk: the SQLite files, or a pg_dump."""
        url = self.env.get("DATABASE_URL", "")
        into.mkdir(parents=True, exist_ok=True)
        if url.startswith("sqlite:///"):
            source = Path(url.removeprefix("sqlite:///"))
            copied = b""
            for suffix in ("", "-wal", "-journal"):
                path = source.with_name(source.name + suffix)
                if path.exists():
                    copied += shutil.copyfile(path, into / path.name).read_bytes()
            assert copied, f"no database file at {source}"
            return copied
        dump = into / "database.sql"
        parts = urlsplit(url)
        libpq_url = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
        subprocess.run(["pg_dump", "--no-owner", "--file", str(dump), libpq_url], env=self.env,
                       timeout=COMMAND_SECONDS, check=True)
        return dump.read_bytes()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(no output)"


@dataclass
class _Database:
    """The server's database: a SQLite file in `tmp`, or a throwaway PostgreSQL database."""

    url: str
    admin_url: str = ""
    name: str = ""

    @classmethod
    def create(cls, tmp: Path) -> _Database:
        configured = os.environ.get("DATABASE_URL", "")
        if not configured.startswith(("postgres://", "postgresql://", "pgsql://")):
            return cls(url=f"sqlite:///{tmp / 'browser.sqlite3'}")
        import psycopg

        name = f"tessera_browser_{secrets.token_hex(4)}"
        parts = urlsplit(configured)
        # Connect to the configured database only to create ours next to it.
        admin_url = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", parts.query, ""))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls(url=urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")),
                   admin_url=admin_url, name=name)

    def drop(self) -> None:
        if not self.name:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# One Python process for every setup command: Django takes a second or two to start each time.
_RUN_COMMANDS = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
import django
django.setup()
from django.core.management import call_command
for command in json.loads(sys.argv[1]):
    call_command(*command)
"""


def _manage(env: dict[str, str], *commands: tuple[str, ...]) -> None:
    """Run manage.py commands, in order, the way `manage.py <command> <args>` would."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN_COMMANDS, json.dumps(commands)], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=COMMAND_SECONDS, check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"manage.py {commands} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Daphne exited with {process.returncode} before answering:\n{_tail(log)}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - our own http URL
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last_error = f"HTTP {error.code}"
        except OSError as error:
            last_error = str(error)
        time.sleep(0.1)
    pytest.fail(f"Daphne did not answer /healthz with 200 within {STARTUP_SECONDS} s ({last_error}):\n{_tail(log)}",
                pytrace=False)


@pytest.fixture(scope="session")
def live_tessera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real Daphne serving Tessera on a fresh database, for the whole session."""
    chromium_path()  # Without a browser there is nothing to drive: skip before paying for a server.
    seed = SEED()
    tmp = tmp_path_factory.mktemp("tessera-live")
    database = _Database.create(tmp)
    process: subprocess.Popen[bytes] | None = None
    try:
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        env.update({
            "DATABASE_URL": database.url,
            "TESSERA_KEYS_FILE": str(tmp / "dev-keys.json"),
            "TESSERA_MEDIA_ROOT": str(tmp / "media"),
            "TESSERA_SERVE_STATIC": "1",
            # As in production: Tessera's own error pages, and the cached template loader.
            "TESSERA_DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        })
        _manage(env, ("compile_catalogs",), ("migrate", "--no-input", "-v", "0"), seed.command)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env["TESSERA_SITE_URL"] = url  # links in emails
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log = ARTIFACTS / "daphne.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "union.asgi:application"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        _wait_until_healthy(url, process, log)
        yield LiveServer(url=url, member=seed.member, log=log, env=env)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        database.drop()


@pytest.fixture(scope="module")
def browser(live_tessera: LiveServer) -> Iterator[Any]:
    """One Chromium per test module.

    Playwright's sync API keeps an asyncio loop alive in this thread while it runs, which makes
    Django refuse ORM calls; stopping it at the end of the module keeps that away from other tests.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# Runs in every page before its own scripts; Playwright injects it outside the page's CSP.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__tesseraCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || document.location.href}:${event.lineNumber}`);
});
"""


@dataclass
class PageWatch:
    """What the pages of one browser context did that a test may want to forbid."""

    server: LiveServer
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith("data:") and not self.server.origin_of(url)]

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"CSP violation: {text}" for text in self.csp_violations]
            + [f"request to another origin: {url}" for url in self.foreign_requests()]
        )


def _watch(context: Any, watch: PageWatch) -> None:
    context.expose_binding("__tesseraCspViolation", lambda _source, text: watch.csp_violations.append(text))
    context.add_init_script(_CSP_LISTENER)
    context.on("request", lambda request: watch.requests.append(request.url))

    def on_page(page: Any) -> None:
        page.on("console", lambda msg: watch.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
        page.on("websocket", lambda socket: watch.requests.append(socket.url))

    context.on("page", on_page)


@dataclass
class Browsing:
    page: Any
    watch: PageWatch
    server: LiveServer
    viewport_name: str

    def goto(self, path: str) -> Any:
        return self.page.goto(f"{self.server.url}{path}")

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot as test-artifacts/browser/<name>-<viewport>.png."""
        path = ARTIFACTS / f"{re.sub(r'[^a-z0-9_.-]+', '-', name.lower())}-{self.viewport_name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_browsing(browser: Any, server: LiveServer, viewport_name: str, *,
                  locale: str = "en-GB") -> tuple[Any, Browsing]:
    viewport = PHONE if viewport_name.startswith("phone") else DESKTOP
    options: dict[str, Any] = {"viewport": viewport, "locale": locale, "service_workers": "block"}
    if viewport is PHONE:
        options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    watch = PageWatch(server=server)
    _watch(context, watch)
    return context, Browsing(page=context.new_page(), watch=watch, server=server, viewport_name=viewport_name)


@pytest.fixture(params=["desktop", "phone-360x740"])
def browsing(request: pytest.FixtureRequest, browser: Any, live_tessera: LiveServer) -> Iterator[Browsing]:
    """A fresh browser context and page, at desktop and at phone size; fails on console/CSP/origin problems."""
    context, session = open_browsing(browser, live_tessera, request.param)
    try:
        yield session
        problems = session.watch.problems()
        assert not problems, "the pages had problems:\n" + "\n".join(problems)
    finally:
        context.close()


def log_in(session: Browsing, handle: str, password: str, *, two_factor: bool = False) -> None:
    """Log in through the English login form, and the two-factor form for officers."""
    page = session.page
    session.goto("/account/login/")
    page.get_by_label("Handle or email").fill(handle)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("main form").get_by_role("button", name="Log in").click()
    if two_factor:
        page.get_by_label("Code from your authenticator app, or a backup code").fill(session.server.totp(handle))
        page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_url(f"{session.server.url}/")


@pytest.fixture
def people(browser: Any, live_tessera: LiveServer) -> Iterator[Callable[..., Browsing]]:
    """Opens one browser context per person, `people("phone-360x740")` or `people("desktop", locale="fr")`.

    Every context is watched like `browsing`'s, and the test fails at teardown on any problem.
    """
    opened: list[tuple[Any, Browsing]] = []

    def open_one(viewport_name: str, *, locale: str = "en-GB") -> Browsing:
        context, session = open_browsing(browser, live_tessera, viewport_name, locale=locale)
        opened.append((context, session))
        return session

    try:
        yield open_one
        problems = [f"{session.viewport_name}: {problem}" for _context, session in opened
                    for problem in session.watch.problems()]
        assert not problems, "the pages had problems:\n" + "\n".join(problems)
    finally:
        for context, _session in opened:
            context.close()
