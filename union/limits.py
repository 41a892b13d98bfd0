"""A bound on heavy work running at once in one process: image re-encoding, PDF rendering, password hashing.

Each of these takes tens to hundreds of megabytes and a whole core for a moment. Daphne runs every
sync view in its own thread, so without a bound sixteen simultaneous logins or eight image uploads
all run at once and the process grows by gigabytes on a two-core server. `heavy_work()` lets
`TESSERA_HEAVY_WORK_SLOTS` jobs (default 2, one per core) run at once; the next one waits up to
`TESSERA_HEAVY_WORK_WAIT` seconds for a slot and is then refused with `Busy`, which
`BusyMiddleware` answers with 503 and Retry-After, so a storm is shed rather than queued for ever.

The semaphore is per process: several Daphne processes each get their own slots, which is what
their memory is sized for. It is not re-entrant: heavy work must not start more heavy work inside
its block (with one slot that would wait for itself and end in `Busy`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

ERR_BUSY = _("The server is busy. Please try again in a minute.")
RETRY_AFTER_SECONDS = 30


class Busy(Exception):
    """No slot for heavy work came free in time; the caller should answer 503."""


_lock = threading.Lock()
_semaphore: threading.BoundedSemaphore | None = None
_slots = 0


def _current() -> threading.BoundedSemaphore:
    """The process's semaphore, created on first use from the settings (never read at import time).

    A change of the setting (tests do this) makes a new semaphore; jobs holding the old one
    release it as before.
    """
    global _semaphore, _slots
    slots = max(1, int(settings.TESSERA_HEAVY_WORK_SLOTS))
    with _lock:
        if _semaphore is None or slots != _slots:
            _semaphore, _slots = threading.BoundedSemaphore(slots), slots
        return _semaphore


@contextmanager
def heavy_work(*, wait: float | None = None) -> Iterator[None]:
    """Hold one slot for the duration of the block; raise `Busy` if none comes free within `wait` seconds."""
    semaphore = _current()
    timeout = settings.TESSERA_HEAVY_WORK_WAIT if wait is None else wait
    if not semaphore.acquire(timeout=max(0.0, float(timeout))):
        raise Busy(str(ERR_BUSY))
    try:
        yield
    finally:
        semaphore.release()


def busy_response() -> HttpResponse:
    response = HttpResponse(str(ERR_BUSY), status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class BusyMiddleware:
    """Answers `Busy` raised anywhere in a view with 503 "busy, try again" instead of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return busy_response() if isinstance(exception, Busy) else None
