"""union/timing.py pads an answer to the equal-time floor: measured by the clock, with wide bounds."""

from __future__ import annotations

import time

from union.timing import JITTER_FRACTION, answer_no_sooner_than


def test_the_answer_waits_for_the_floor_and_no_longer_than_the_floor_plus_jitter() -> None:
    floor = 0.2
    started = time.monotonic()
    with answer_no_sooner_than(floor):
        time.sleep(0.05)  # the work
    padded = time.monotonic() - started
    started = time.monotonic()
    with answer_no_sooner_than(floor):
        time.sleep(0.3)  # work longer than the floor goes out at once
    overran = time.monotonic() - started
    assert floor <= padded < floor * (1 + JITTER_FRACTION) + 0.05, padded
    assert 0.3 <= overran < 0.35, overran
