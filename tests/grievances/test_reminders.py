"""Deadline reminders (grievances/reminders.py and `manage.py grievance_reminders`).

Notifications are read back from the real channel layer (a channel joined to the steward's user
group), emails from Django's outbox; both leave only after commit, so the tests run the commit
callbacks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core import mail
from django.core.management import call_command
from pytest_django import DjangoCaptureOnCommitCallbacks

from grievances.models import Grievance, Reminder, Step
from grievances.reminders import send_reminders
from grievances.services import grievance_advance, grievance_assign, grievance_close
from membership.models import User
from tests.base import Personas
from tests.factories import make_member
from tests.grievances.factories import make_case
from union.realtime import user_group

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 3, 2)
NARRATIVE = "CANARY-7781 the queue showed beheadings all night"


OPEN_INBOXES: list[Inbox] = []


def _layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    assert layer is not None, "settings configure a channel layer"
    return layer


class Inbox:
    """The notifications one user's open pages would receive.

    It keeps one event loop of its own: the Redis pub/sub layer binds channels to the loop that
    made them, as a consumer's channel is bound to its Daphne process.
    """

    def __init__(self, user: User) -> None:
        self.layer = _layer()
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(user_group(user.pk), self.channel))
        # Let the layer finish subscribing on Redis before anything is published.
        self.loop.run_until_complete(asyncio.sleep(0.2))
        OPEN_INBOXES.append(self)

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.flush())
        self.loop.close()

    def read(self) -> list[dict[str, Any]]:
        async def drain() -> list[dict[str, Any]]:
            out = []
            while True:
                try:
                    out.append(await asyncio.wait_for(self.layer.receive(self.channel), timeout=0.3))
                except TimeoutError:
                    return out

        return self.loop.run_until_complete(drain())


@pytest.fixture
def run(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> Callable[[date], int]:
    def run_on(today: date) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return send_reminders(today)

    return run_on


@pytest.fixture(autouse=True)
def _clean_inboxes() -> Iterator[None]:
    yield
    while OPEN_INBOXES:
        OPEN_INBOXES.pop().close()
    async_to_sync(_layer().flush)()


def due(grievance: Grievance, day: date) -> Grievance:
    Grievance.objects.filter(pk=grievance.pk).update(due_date=day)
    grievance.refresh_from_db()
    return grievance


class TestWhoIsReminded:
    def test_the_steward_of_a_case_due_soon_is_notified_in_app_and_by_email(self, personas: Personas, run: Callable[[date], int]) -> None:
        case = due(make_case(personas, narrative=NARRATIVE), MONDAY + timedelta(days=2))
        inbox = Inbox(personas.steward)
        assert run(MONDAY) == 1
        [notice] = inbox.read()
        assert notice["kind"] == "grievance.deadline" and notice["url"] == f"/grievances/{case.code}/"
        assert case.number in notice["text"] and "4 March 2026" in notice["text"]  # the date as people write it
        assert [m.to for m in mail.outbox] == [[personas.steward.email]]
        assert Reminder.objects.filter(grievance=case, recipient=personas.steward, sent_on=MONDAY).count() == 1

    def test_an_overdue_case_is_reminded_too(self, personas: Personas, run: Callable[[date], int]) -> None:
        due(make_case(personas), MONDAY - timedelta(days=5))
        assert run(MONDAY) == 1

    def test_a_deadline_far_away_is_not_reminded(self, personas: Personas, run: Callable[[date], int]) -> None:
        due(make_case(personas), MONDAY + timedelta(days=14))
        inbox = Inbox(personas.steward)
        assert run(MONDAY) == 0
        assert inbox.read() == [] and mail.outbox == []

    def test_cases_without_a_steward_closed_or_draft_are_skipped(self, personas: Personas, run: Callable[[date], int]) -> None:
        p = personas
        due(make_case(p, assign=False), MONDAY)
        closed = make_case(p)
        grievance_close(actor=p.steward, grievance=closed, outcome="withdrawn")
        Grievance.objects.filter(pk=closed.pk).update(due_date=MONDAY)
        due(make_case(p, submit=False), MONDAY)
        assert run(MONDAY) == 0
        assert mail.outbox == [] and not Reminder.objects.exists()

    def test_a_deactivated_steward_is_skipped(self, personas: Personas, run: Callable[[date], int]) -> None:
        due(make_case(personas), MONDAY)
        User.objects.filter(pk=personas.steward.pk).update(is_active=False)
        assert run(MONDAY) == 0


class TestOncePerDay:
    def test_a_second_run_the_same_day_sends_nothing_new(self, personas: Personas, run: Callable[[date], int]) -> None:
        due(make_case(personas), MONDAY + timedelta(days=1))
        inbox = Inbox(personas.steward)
        assert run(MONDAY) == 1
        assert run(MONDAY) == 0
        assert len(inbox.read()) == 1 and len(mail.outbox) == 1
        assert Reminder.objects.count() == 1

    def test_the_next_day_sends_again(self, personas: Personas, run: Callable[[date], int]) -> None:
        due(make_case(personas), MONDAY + timedelta(days=2))
        assert run(MONDAY) == 1
        assert run(MONDAY + timedelta(days=1)) == 1
        assert len(mail.outbox) == 2

    def test_a_new_steward_is_reminded_the_same_day(self, personas: Personas, run: Callable[[date], int]) -> None:
        p = personas
        case = due(make_case(p), MONDAY)
        assert run(MONDAY) == 1
        other = make_member(p.local, "steward")
        grievance_assign(actor=p.local_admin, grievance=case, steward=other)
        assert run(MONDAY) == 1
        assert [m.to for m in mail.outbox][-1] == [other.email]

    def test_the_command_runs_and_says_how_many(
            self, personas: Personas, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
        due(make_case(personas), MONDAY)
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("grievance_reminders", "--today", MONDAY.isoformat(), stdout=out)
            call_command("grievance_reminders", "--today", MONDAY.isoformat(), stdout=out)
        assert out.getvalue().splitlines() == ["1 reminder(s) sent.", "0 reminder(s) sent."]
        assert len(mail.outbox) == 1


class TestNoDetails:
    def test_the_email_names_no_case_and_repeats_nothing(self, personas: Personas, run: Callable[[date], int]) -> None:
        case = due(make_case(personas, narrative=NARRATIVE, contract_article="Art. 12"), MONDAY)
        run(MONDAY)
        [email] = mail.outbox
        text = f"{email.subject}\n{email.body}"
        assert case.number is not None
        for detail in (case.number, case.title, "CANARY", "Art. 12", "Pay", str(case.code), "grievance", "union"):
            assert detail.lower() not in text.lower(), detail
        assert "/login/" in email.body or "login" in email.body

    def test_the_in_app_text_names_the_number_only(self, personas: Personas, run: Callable[[date], int]) -> None:
        case = due(make_case(personas, narrative=NARRATIVE), MONDAY)
        inbox = Inbox(personas.steward)
        run(MONDAY)
        [notice] = inbox.read()
        for detail in (case.title, "CANARY", "Pay what is owed", personas.member.handle):
            assert detail not in notice["text"]

    def test_the_text_is_in_the_stewards_language(self, personas: Personas, run: Callable[[date], int]) -> None:
        User.objects.filter(pk=personas.steward.pk).update(language="fr")
        due(make_case(personas), MONDAY)
        inbox = Inbox(personas.steward)
        run(MONDAY)
        [notice] = inbox.read()
        assert "Case" not in notice["text"] and "2 mars 2026" in notice["text"]


class TestHolidays:
    """Kenya, end of 2025: Jamhuri Day (Fri 12 Dec), Christmas and Boxing Day (Thu 25, Fri 26 Dec),
    New Year's Day (Thu 1 Jan 2026). Investigation has 10 working days by default."""

    def investigation(self, p: Personas, start: date) -> Grievance:
        case = make_case(p, country="KE")
        step = Step.objects.get(union=case.union, slug="investigation")
        assert (step.deadline_days, step.day_kind) == (10, Step.DayKind.WORKING)
        return grievance_advance(actor=p.steward, grievance=case, step=step, triggered_on=start)

    def test_a_deadline_across_jamhuri_day(self, personas: Personas) -> None:
        # 11 | 12 holiday | 15 16 17 18 19 | 22 23 24 | 25 26 holidays | 29
        assert self.investigation(personas, date(2025, 12, 10)).due_date == date(2025, 12, 29)

    def test_a_deadline_across_christmas_and_new_year(self, personas: Personas, run: Callable[[date], int]) -> None:
        case = self.investigation(personas, date(2025, 12, 22))
        # 23 24 | 25 26 holidays | 29 30 31 | 1 Jan holiday | 2 | 5 6 7 8
        assert case.due_date == date(2026, 1, 8)
        # Four working days before (Fri 2 Jan) is not yet "due soon"; three (Mon 5 Jan) is. Counting
        # calendar days, or forgetting the holidays, would have reminded before Christmas.
        assert run(date(2025, 12, 24)) == 0
        assert run(date(2026, 1, 2)) == 0
        assert run(date(2026, 1, 5)) == 1
        assert run(date(2026, 1, 9)) == 1  # overdue


class TestTask:
    # Transactional: the worker closes and reopens its database connection between tasks, as in
    # production, which would end the test's wrapping transaction on PostgreSQL.
    @pytest.mark.django_db(transaction=True)
    def test_with_the_database_backend_the_command_queues_and_the_worker_sends(
            self, personas: Personas, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        due(make_case(personas), MONDAY)
        mail.outbox.clear()  # the case's own notices (sent at once when the test is transactional)
        out = StringIO()
        call_command("grievance_reminders", "--today", MONDAY.isoformat(), stdout=out)
        assert out.getvalue().startswith("Reminders queued for the worker")
        assert not Reminder.objects.exists() and not mail.outbox
        with django_capture_on_commit_callbacks(execute=True):
            call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        assert Reminder.objects.filter(recipient=personas.steward, sent_on=MONDAY).count() == 1
        assert len(mail.outbox) == 1
