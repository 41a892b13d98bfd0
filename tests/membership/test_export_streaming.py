"""Exports stream through the ASGI handler (as under Daphne): the first chunk leaves before the body is built.

Django 5.2 reads a sync streaming iterator into a list under ASGI before sending anything; these
tests drive the real ASGI application and count, through a pass-through spy on the function that
builds each CSV row, how many rows existed when the first body message reached the client.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import Client
from django.urls import reverse

from grievances import charts as grievance_charts
from membership import roll
from membership.models import User
from tests.base import Personas, login_as
from tests.grievances.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """Count calls of `module.name` while calling through to it (nothing it does is replaced)."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def asgi_get(user: User, path: str, on_first_body: Callable[[], None]) -> tuple[int, list[bytes]]:
    """GET `path` as `user` through Django's ASGI handler; call `on_first_body` at the first body message."""
    session = login_as(Client(), user).cookies["sessionid"].value
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", f"sessionid={session}".encode())],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }
    status: list[int] = []
    bodies: list[bytes] = []

    async def run() -> None:
        sent = False
        hang_up = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await hang_up.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body" and message.get("body"):
                if not bodies:
                    on_first_body()
                bodies.append(message["body"])

        await ASGIHandler()(scope, receive, send)
        hang_up.set()

    asyncio.run(run())
    return status[0], bodies


def rows_of(bodies: list[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(bodies).decode().lstrip("\ufeff"))))


def test_the_roll_export_sends_its_first_chunk_before_reading_every_row(
        personas: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("union.csv.CHUNK_ROWS", 2)
    built = spy(monkeypatch, roll, "export_row")
    at_first_body: list[int] = []
    url = reverse("membership:roll_export", kwargs={"local_code": personas.local.code})
    status, bodies = asgi_get(personas.organizer, url, lambda: at_first_body.append(len(built)))
    rows = rows_of(bodies)
    assert status == 200 and rows[0][0] == "pseudonym" and len(rows) == 1 + 5
    assert len(built) == 5
    assert at_first_body[0] < len(built), "the whole file was built before the first byte left"
    assert len(bodies) >= 3  # header, then chunks of two rows


def test_the_grievance_export_sends_its_first_chunk_before_reading_every_case(
        personas: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        make_case(personas)
    monkeypatch.setattr("union.csv.CHUNK_ROWS", 1)
    built = spy(monkeypatch, grievance_charts, "case_row")
    at_first_body: list[int] = []
    url = reverse("grievances:dash_export", kwargs={"code": personas.local.code})
    status, bodies = asgi_get(personas.local_admin, url, lambda: at_first_body.append(len(built)))
    rows = rows_of(bodies)
    assert status == 200 and rows[0][0] == "number" and len(rows) == 1 + 3
    assert at_first_body[0] < len(built) == 3, "the whole file was built before the first byte left"


def test_an_outsider_gets_404_through_asgi_too(personas: Personas) -> None:
    url = reverse("membership:roll_export", kwargs={"local_code": personas.local.code})
    status, _bodies = asgi_get(personas.outsider, url, lambda: None)
    assert status == 404
