"""Answers that must not reveal whether an email or phone is known take the same time.

Making both paths do the same work (tests/membership/test_equal_work.py) is necessary but not
enough: a known address still runs a few more queries, and the difference shows in the median
response time. So these answers are padded to a fixed floor (`TESSERA_EQUAL_TIME_SECONDS`) plus
a little jitter: whatever the work took below the floor, the client sees the floor.

If the work takes longer than the floor the answer goes out at once (waiting longer would only
slow everyone) and one warning naming the view, never the address, is logged so the operator
can raise the floor. Both kinds of request are then slow together (a load spike), and the
difference between them is the few milliseconds of work the floor usually hides.

The wait is a plain sleep in the request's own thread: under ASGI each request runs its sync code
in a thread of its own, so a sleeping join does not hold up other requests.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)

# Jitter as a fraction of the floor: it blurs the floor's edge, it is not what hides the work.
JITTER_FRACTION = 0.02

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def equal_time_floor() -> float:
    return float(settings.TESSERA_EQUAL_TIME_SECONDS)


@contextmanager
def answer_no_sooner_than(seconds: float, *, label: str = "request") -> Iterator[None]:
    """Run the block, then sleep until `seconds` (plus jitter) have passed since it started."""
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        jitter = secrets.randbelow(1001) / 1000 * JITTER_FRACTION * seconds
        remaining = seconds + jitter - elapsed
        if remaining > 0:
            time.sleep(remaining)
        elif seconds > 0:
            # No address or handle here: only which answer overran, and by how much.
            logger.warning("Equal-time floor of %.2f s exceeded by %s (%.2f s); raise "
                           "TESSERA_EQUAL_TIME_SECONDS if this recurs.", seconds, label, elapsed)


def equal_time_post(view: View) -> View:
    """Pad every POST answer of `view` to the equal-time floor; other methods are not padded."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        with answer_no_sooner_than(equal_time_floor(), label=view.__name__):
            return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]
