"""Simultaneous sign-ups with one email, on PostgreSQL: everyone gets the same page, one account exists.

A real concurrency test: each thread has its own database connection and commits for real, so
the unique indexes decide the race exactly as they would between Daphne processes.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

from membership.cardtext import ensure_default_card_texts
from membership.models import Member, User
from tests.base import Personas
from tests.factories import make_unit
from tests.membership.test_join import CANARY_EMAIL, form_data, join_url
from tests.services import need
from union.crypto import blind_index

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 6


def post_together(url: str, payloads: list[dict[str, Any]]) -> list[tuple[int, str]]:
    barrier = threading.Barrier(len(payloads))
    answers: list[tuple[int, str]] = [(0, "")] * len(payloads)

    def one(i: int) -> None:
        try:
            client = Client(raise_request_exception=False)
            barrier.wait(timeout=30)
            response = client.post(url, payloads[i], REMOTE_ADDR=f"10.0.0.{i + 1}")
            answers[i] = (response.status_code, response.get("Location", ""))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


@pytest.fixture
def postgres(db: None) -> None:
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL: no real row locking to race")


@pytest.mark.parametrize("same_handle", [True, False], ids=["same-handle", "different-handles"])
def test_simultaneous_joins_with_one_email_all_see_the_same_page(
    postgres: None, personas: Personas, same_handle: bool
) -> None:
    union = personas.local.union
    ensure_default_card_texts(union)
    unit = make_unit(personas.local)
    payloads = [form_data(unit, handle="racer" if same_handle else f"racer{i}", pseudonym=f"Racer {i}", phone="")
                for i in range(THREADS)]
    answers = post_together(join_url(union), payloads)
    assert len(set(answers)) == 1, answers
    assert answers[0][0] == 302 and answers[0][1].endswith("/sent/")
    index = blind_index(CANARY_EMAIL, purpose="email")
    assert Member.objects.filter(union=union, email_index=index).count() == 1
    assert User.objects.filter(email_index=index).count() == 1


def test_simultaneous_joins_racing_for_one_handle_never_answer_500(postgres: None, personas: Personas) -> None:
    union = personas.local.union
    ensure_default_card_texts(union)
    unit = make_unit(personas.local)
    payloads = [form_data(unit, handle="samehandle", email=f"racer{i}@example.org", pseudonym=f"Racer {i}", phone="")
                for i in range(THREADS)]
    statuses = sorted(status for status, _location in post_together(join_url(union), payloads))
    # The form's check passes for several; the unique index decides; the losers see "handle taken".
    assert statuses.count(302) == 1 and set(statuses) <= {302, 400}, statuses
    assert User.objects.filter(handle="samehandle").count() == 1
    assert Member.objects.filter(pseudonym__startswith="Racer").count() == 1


def test_simultaneous_joins_with_one_phone_all_join_and_one_keeps_it(postgres: None, personas: Personas) -> None:
    union = personas.local.union
    ensure_default_card_texts(union)
    unit = make_unit(personas.local)
    payloads = [form_data(unit, handle=f"phoner{i}", email=f"phoner{i}@example.org", pseudonym=f"Phoner {i}",
                          phone="+254 711 000 999") for i in range(THREADS)]
    answers = post_together(join_url(union), payloads)
    assert {status for status, _location in answers} == {302}, answers
    phones = list(Member.objects.filter(pseudonym__startswith="Phoner").values_list("phone", flat=True))
    assert len(phones) == THREADS and sorted(phones, key=bool) == [None] * (THREADS - 1) + ["+254711000999"]
