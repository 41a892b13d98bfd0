"""No body, key or room name reaches the logs, at DEBUG, in the rooms' error paths (spec §4.11:
"never log frame bodies"). The live version of this, with Daphne's own logs, is
tests/messaging/test_server_blind.py; this one runs everywhere, on Django's test client.

Bad bodies carry a marker in every place a validator might echo it (an unknown field, a wrong type,
a string where an object goes, a body that is not JSON); each must answer 400 without the marker,
and no log record at any level may hold it, with DEBUG on (django-ninja adds the parser's message
to its answers then, and Django logs every SQL statement with its parameters).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.messaging.test_rooms_api import API, call, setting  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture, settings: Any) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG, Django's too (its logger does not propagate: it has its own handler)."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    django_logger = logging.getLogger("django")
    level = django_logger.level
    django_logger.addHandler(caplog.handler)
    django_logger.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        django_logger.removeHandler(caplog.handler)
        django_logger.setLevel(level)


def test_bad_bodies_are_refused_without_echo_or_log(setting: dict[str, Any],  # noqa: F811
                                                    debug_logs: pytest.LogCaptureFixture) -> None:
    org, b, room = setting["org"], setting["b"], setting["room"]
    code = room["code"]
    marker = "MARKER-" + secrets.token_hex(8)
    envelope = b.seal(room["room_id"], {"type": "text", "text": "x"})
    bodies: list[tuple[str, str, Any]] = [
        ("post", f"/rooms/{code}/messages", {**envelope, "preview": marker}),
        ("post", f"/rooms/{code}/messages", {**envelope, "ct": marker}),
        ("post", f"/rooms/{code}/messages", {**envelope, "epoch": marker}),
        ("post", f"/rooms/{code}/messages", {**envelope, "sender": marker}),
        ("post", f"/rooms/{code}/messages", [marker]),
        ("put", f"/rooms/{code}/meta", {"name": marker, "topic": marker}),
        ("put", f"/rooms/{code}/meta", {**envelope, "t": "meta", "ctr": marker}),
        ("post", f"/rooms/{code}/commits", {"commit": marker, "wraps": [marker]}),
        ("post", f"/rooms/{code}/read", {"seq": marker}),
        ("post", "/devices", {"v": 1, "user": marker, "devices": [{"id": marker}]}),
        ("put", "/backup/params", {"params": {"kdf": marker}}),
        ("put", "/backup/items", {"v": 1, "t": "bk", "kind": "msk", "id": marker, "ver": 1, "n": "x", "ct": marker}),
        ("post", "/rooms", {"kind": "local", "parent": marker, "room_id": marker}),
    ]
    for method, path, body in bodies:
        response = call(org, method, path, body)
        assert response.status_code == 400, (path, response.content)
        assert marker not in response.content.decode(), (path, response.content)
    for raw in (f'{{"preview": "{marker}"', f"{marker}", f'{{"a": "{marker}\udcff"}}'.encode("utf-8", "surrogatepass")):
        response = org.post(f"{API}/rooms/{code}/messages", data=raw, content_type="application/json")
        assert response.status_code == 400 and marker not in response.content.decode(errors="replace")
    assert any(r.levelno >= logging.WARNING for r in debug_logs.records)  # the 400s were logged, as one line each
    assert any(r.name == "django.db.backends" for r in debug_logs.records)  # and DEBUG really was on
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {json.dumps(r.args, default=str)}" for r in debug_logs.records)
    assert marker not in logged


def test_a_member_s_good_traffic_logs_ciphertext_only(setting: dict[str, Any],  # noqa: F811
                                                      debug_logs: pytest.LogCaptureFixture) -> None:
    org, mem, a, b, room = (setting[k] for k in ("org", "mem", "a", "b", "room"))
    text, name = "CANARY-" + secrets.token_hex(8), "Room " + secrets.token_hex(8)
    assert call(mem, "post", f"/rooms/{room['code']}/messages", b.seal(room["room_id"], {"type": "text", "text": text})
                ).status_code == 201
    assert call(org, "put", f"/rooms/{room['code']}/meta", a.seal_meta(room["room_id"], {"name": name})).status_code == 200
    read = call(org, "get", f"/rooms/{room['code']}/messages").json()["messages"]
    assert json.loads(a.open(room["room_id"], read[0]["envelope"]).body)["text"] == text
    logged = "\n".join(r.getMessage() for r in debug_logs.records)
    assert "messaging_message" in logged  # the SQL log has the row, as ciphertext
    assert text not in logged and name not in logged
    es = a.rooms[room["room_id"]].secrets[1]
    assert es.hex() not in logged.lower()
