"""Heavy work is bounded per process: the (N+1)th job at once waits briefly, then is refused with 503."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, make_user
from union.limits import Busy, heavy_work

TESSERA_HASHER = "union.hashers.TesseraArgon2PasswordHasher"


@contextmanager
def slots_held(n: int) -> Iterator[None]:
    """Hold `n` slots from other threads, as `n` uploads or logins in progress would."""
    started, release = threading.Semaphore(0), threading.Event()

    def job() -> None:
        with heavy_work():
            started.release()
            release.wait(10)

    workers = [threading.Thread(target=job) for _ in range(n)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(n):
            assert started.acquire(timeout=5), "a slot should have been free"
        yield
    finally:
        release.set()
        for worker in workers:
            worker.join()


class TestHeavyWork:
    @pytest.mark.parametrize("slots", [1, 2, 3])
    def test_it_refuses_the_job_after_the_last_slot(self, settings: Any, slots: int) -> None:
        settings.TESSERA_HEAVY_WORK_SLOTS, settings.TESSERA_HEAVY_WORK_WAIT = slots, 0.05
        with slots_held(slots), pytest.raises(Busy), heavy_work():
            pass
        with heavy_work():  # every slot came back
            pass

    def test_a_waiting_job_runs_when_a_slot_comes_free(self, settings: Any) -> None:
        settings.TESSERA_HEAVY_WORK_SLOTS, settings.TESSERA_HEAVY_WORK_WAIT = 1, 5
        ran = threading.Event()

        def wait_for_a_slot() -> None:
            with heavy_work():
                ran.set()

        with slots_held(1):
            waiter = threading.Thread(target=wait_for_a_slot)
            waiter.start()
            assert not ran.wait(0.2)
        waiter.join(5)
        assert ran.is_set()

    def test_a_login_storm_beyond_the_slots_is_answered_503(self, settings: Any, db: None) -> None:
        settings.PASSWORD_HASHERS = [TESSERA_HASHER]
        make_user("amani")
        settings.TESSERA_HEAVY_WORK_SLOTS, settings.TESSERA_HEAVY_WORK_WAIT = 2, 0.05
        client = Client()
        with slots_held(2):
            response = client.post(reverse("account:login"), {"username": "amani", "password": PASSWORD})
        assert response.status_code == 503 and response["Retry-After"] == "30"
        assert "busy" in response.content.decode() and "_auth_user_id" not in client.session
        response = client.post(reverse("account:login"), {"username": "amani", "password": PASSWORD})
        assert response.status_code == 302 and "_auth_user_id" in client.session


class TestPdfRendering:
    def test_a_pdf_is_refused_while_every_slot_is_busy(self, settings: Any) -> None:
        from union.pdf import html_to_pdf

        settings.TESSERA_HEAVY_WORK_SLOTS, settings.TESSERA_HEAVY_WORK_WAIT = 1, 0.05
        with slots_held(1), pytest.raises(Busy):
            html_to_pdf("pdf/base.html", {})
        assert html_to_pdf("pdf/base.html", {}).startswith(b"%PDF")
