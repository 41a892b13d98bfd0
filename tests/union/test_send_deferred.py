"""union.realtime.send_deferred: what a consumer's database call collected, sent from the event loop.

A failed send is a warning in the log, never an exception (the change is committed already), and
the events after it are still sent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from union.realtime import send_deferred


def test_a_failed_send_is_logged_and_the_next_event_still_goes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="union.realtime"):
        async_to_sync(_send_around_a_failure)()
    assert [r.levelno for r in caplog.records if r.name == "union.realtime"] == [logging.WARNING]


async def _send_around_a_failure() -> None:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add("deferred.ok", channel)
    real_send = layer.group_send

    async def flaky(group: str, event: dict[str, Any]) -> None:
        if group == "deferred.down":
            raise ConnectionError("the layer is restarting")
        await real_send(group, event)

    with mock.patch.object(layer, "group_send", flaky):
        await send_deferred([("deferred.down", {"type": "x.lost"}), ("deferred.ok", {"type": "x.kept", "n": 1})])
    assert (await layer.receive(channel)) == {"type": "x.kept", "n": 1}
    await layer.group_discard("deferred.ok", channel)


def test_side_effects_go_through_services_and_realtime() -> None:
    """Audit records and notices are written by services, and a consumer sends through realtime.py."""
    root = Path(__file__).resolve().parents[2]
    for module in ("bargaining/agreement.py", "bargaining/tasks.py"):
        text = (root / module).read_text()
        assert "audit_record" not in text and "notify_user" not in text, module
    assert "group_send(" not in (root / "messaging/consumers.py").read_text()
