"""A known and an unknown email answer in the same time, by the clock (issue 7).

tests/membership/test_equal_work.py checks that both do the same costly work; the few extra
queries a known address still runs showed in the median response time (a reviewer measured
147 against 119 ms on the join form). With the equal-time floor (union/timing.py) both answers
take the floor. A handful of alternating requests each: a behavioural check, not a benchmark.

The floor only hides what it covers: on a loaded machine (CI with other work running) a join took
1.4 s, past a fixed 0.3 s floor, and the check failed although the product behaved. So each test
first times the work itself with no floor and sets the floor above it, as production does with its
1 s default: the property checked is "with a floor above the work, both answers take the floor".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from membership.cardtext import ensure_default_card_texts
from membership.models import Member, User
from tests.base import Personas
from tests.factories import PASSWORD, make_unit
from tests.membership.test_join import form_data, join_url

MIN_FLOOR = 0.3
ROUNDS = 5


@pytest.fixture
def floor(settings: Settings) -> Callable[[float], float]:
    """Sets the equal-time floor to cover the measured work (at least MIN_FLOOR) and returns it."""
    def set_floor(work: float) -> float:
        settings.TESSERA_EQUAL_TIME_SECONDS = max(MIN_FLOOR, 2 * work)
        return float(settings.TESSERA_EQUAL_TIME_SECONDS)
    settings.TESSERA_EQUAL_TIME_SECONDS = 0
    return set_floor


def _work(post: Callable[[str, int], int], known: str, unknown: str) -> float:
    """The slowest of a few unfloored answers: what the floor has to cover on this machine now."""
    times = []
    for n, email in enumerate((known, unknown, known, unknown)):
        started = time.monotonic()
        post(email, 100 + n)
        times.append(time.monotonic() - started)
    return max(times)


def _medians(post: Callable[[str, int], int], known: str, unknown: str, set_floor: Callable[[float], float], *,
             status: int = 302) -> tuple[float, float, float]:
    floor = set_floor(_work(post, known, unknown))
    times: dict[str, list[float]] = {known: [], unknown: []}
    for n in range(ROUNDS):
        # Alternating, so a slow moment of the machine hits both kinds alike.
        for email in (known, unknown) if n % 2 else (unknown, known):
            started = time.monotonic()
            answered = post(email, n)
            times[email].append(time.monotonic() - started)
            assert answered == status
    return statistics.median(times[known]), statistics.median(times[unknown]), floor


def _assert_same_time(known: float, unknown: float, floor: float) -> None:
    margin = max(0.1, floor / 3)  # above floor + jitter: a shared 2-core machine under load
    assert floor <= known < floor + margin, (known, floor)
    assert floor <= unknown < floor + margin, (unknown, floor)
    assert abs(known - unknown) < max(0.03, floor / 10), (known, unknown, floor)


def test_the_join_form_answers_a_known_email_in_the_same_time_as_a_new_one(personas: Personas, floor: Callable[[float], float]) -> None:
    union = personas.local.union
    ensure_default_card_texts(union)
    unit = make_unit(personas.local)
    member = Member.objects.get(user=personas.member)
    member.set_email("known@example.org")
    member.save()

    def post(email: str, n: int) -> int:
        handle = f"{email.split('@')[0]}{n}"
        return Client().post(join_url(union), form_data(unit, email=email, handle=handle, phone="")).status_code

    _assert_same_time(*_medians(post, "known@example.org", "new@example.org", floor))


def test_password_reset_answers_a_known_email_in_the_same_time_as_an_unknown_one(db: None, floor: Callable[[float], float]) -> None:
    User.objects.create_user("amani", PASSWORD, email="amani@example.org")

    def post(email: str, n: int) -> int:
        return Client().post(reverse("account:password_reset"), {"email": email}).status_code

    _assert_same_time(*_medians(post, "amani@example.org", "stranger@example.org", floor))


def test_login_answers_a_known_email_in_the_same_time_as_an_unknown_one(db: None, settings: Settings,
                                                                        floor: Callable[[float], float]) -> None:
    settings.AXES_FAILURE_LIMIT = 100  # the repeated wrong password must not lock the account out here
    User.objects.create_user("amani", PASSWORD, email="amani@example.org")

    def post(email: str, n: int) -> int:
        return Client().post(reverse("account:login"), {"username": email, "password": "wrong password!"}).status_code

    _assert_same_time(*_medians(post, "amani@example.org", "nobody@example.org", floor, status=400))
