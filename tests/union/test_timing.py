"""union/timing.py pads an answer to the equal-time floor: measured by the clock, with wide bounds."""

from __future__ import annotations

import logging
import time

import pytest

from union.timing import JITTER_FRACTION, answer_no_sooner_than


def test_the_answer_waits_for_the_floor_and_no_longer_than_the_floor_plus_jitter(
        caplog: pytest.LogCaptureFixture) -> None:
    floor = 0.2
    started = time.monotonic()
    with answer_no_sooner_than(floor):
        time.sleep(0.05)  # the work
    padded = time.monotonic() - started
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="union.timing"), answer_no_sooner_than(floor, label="join"):
        time.sleep(0.3)  # work longer than the floor goes out at once
    overran = time.monotonic() - started
    assert floor <= padded < floor * (1 + JITTER_FRACTION) + 0.05, padded
    assert 0.3 <= overran < 0.35, overran
    # The overrun is logged so the operator can raise the floor: the view's name, nothing about who.
    assert [record.getMessage().split(" exceeded by ")[1][:4] for record in caplog.records] == ["join"]
