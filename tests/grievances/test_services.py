"""The grievance workflow: numbering, steps and deadlines, outcomes, reopening, the timeline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from grievances.models import Event, Grievance, Step
from grievances.services import (
    GrievanceError,
    event_add,
    event_correct,
    grievance_advance,
    grievance_assign,
    grievance_close,
    grievance_reopen,
    grievance_submit,
)
from tests.base import Personas
from tests.grievances.factories import current_step, make_case, number
from union.models import AuditEvent


def step(p: Personas, slug: str) -> Step:
    return Step.objects.get(union=p.local.union, slug=slug)


class TestFiling:
    def test_a_submitted_case_gets_a_number_a_step_and_a_deadline(self, personas: Personas) -> None:
        case = make_case(personas)
        year = timezone.localdate().year
        assert case.number == f"GRV-{year}-0001" and case.status == Grievance.Status.OPEN
        assert current_step(case).slug == "intake" and case.due_date is not None
        assert make_case(personas).number == f"GRV-{year}-0002"
        assert case.events.filter(kind=Event.Kind.FILED).exists()

    def test_a_case_cannot_be_submitted_twice(self, personas: Personas) -> None:
        case = make_case(personas)
        with pytest.raises(GrievanceError):
            grievance_submit(actor=personas.member, grievance=case)
        assert Grievance.objects.get(pk=case.pk).number == case.number

    def test_grievants_must_be_of_the_local(self, personas: Personas) -> None:
        from grievances.models import Category
        from grievances.services import grievance_create
        from membership.models import Member

        make_case(personas, submit=False)
        category = Category.objects.filter(union=personas.local.union).first()
        assert category is not None
        with pytest.raises(GrievanceError):
            grievance_create(actor=personas.steward, local=personas.local, category=category,
                             grievants=[Member.objects.get(user=personas.outsider)], title="x")


class TestSteps:
    def test_advancing_computes_the_deadline_past_a_holiday(self, personas: Personas) -> None:
        case = make_case(personas, country="KE")
        grievance_advance(actor=personas.steward, grievance=case, step=step(personas, "investigation"),
                          triggered_on=date(2026, 12, 18))
        case.refresh_from_db()
        # 10 working days from Friday 18 Dec 2026 in Kenya skip Christmas and New Year's Day.
        assert case.due_date == date(2027, 1, 5) and case.step_started == date(2026, 12, 18)
        event = case.events.get(kind=Event.Kind.STEP)
        assert event.data == {"from": "intake", "to": "investigation"} and event.shared

    def test_the_same_step_in_the_philippines_ends_later(self, personas: Personas) -> None:
        case = make_case(personas, country="PH")
        grievance_advance(actor=personas.steward, grievance=case, step=step(personas, "investigation"),
                          triggered_on=date(2026, 12, 18))
        case.refresh_from_db()
        # Christmas Eve, Christmas, Rizal Day and New Year's Eve are holidays there too.
        assert case.due_date == date(2027, 1, 8)

    def test_skipping_a_step_is_refused_with_a_clear_message(self, personas: Personas) -> None:
        case = make_case(personas)
        with pytest.raises(GrievanceError, match="one step forward at a time"):
            grievance_advance(actor=personas.steward, grievance=case, step=step(personas, "step-2"))
        case.refresh_from_db()
        assert current_step(case).slug == "intake"

    def test_arbitration_counts_calendar_days(self, personas: Personas) -> None:
        case = make_case(personas)
        for slug in ("investigation", "step-1", "step-2", "step-3"):
            grievance_advance(actor=personas.steward, grievance=case, step=step(personas, slug))
        grievance_advance(actor=personas.steward, grievance=case, step=step(personas, "arbitration"),
                          triggered_on=date(2026, 12, 1))
        case.refresh_from_db()
        assert case.due_date == date(2026, 12, 31)
        with pytest.raises(GrievanceError, match="last step"):
            grievance_advance(actor=personas.steward, grievance=case, step=step(personas, "arbitration"))


class TestOutcomes:
    def test_a_settlement_needs_an_amount(self, personas: Personas) -> None:
        case = make_case(personas)
        with pytest.raises(GrievanceError, match="amount"):
            grievance_close(actor=personas.steward, grievance=case, outcome="settled")
        grievance_close(actor=personas.steward, grievance=case, outcome="settled", amount=Decimal("1250.00"))
        case.refresh_from_db()
        assert case.status == "closed" and case.settlement_amount == Decimal("1250.00") and case.due_date is None

    def test_only_a_settlement_has_an_amount(self, personas: Personas) -> None:
        case = make_case(personas)
        with pytest.raises(GrievanceError):
            grievance_close(actor=personas.steward, grievance=case, outcome="won", amount=Decimal("1"))

    def test_an_unknown_outcome_is_refused(self, personas: Personas) -> None:
        case = make_case(personas)
        with pytest.raises(ValueError):
            grievance_close(actor=personas.steward, grievance=case, outcome="vanished")
        assert Grievance.objects.get(pk=case.pk).status == "open"

    def test_reopening_restarts_the_clock(self, personas: Personas) -> None:
        case = make_case(personas)
        grievance_close(actor=personas.steward, grievance=case, outcome="lost")
        with pytest.raises(GrievanceError):
            grievance_close(actor=personas.steward, grievance=case, outcome="won")
        grievance_reopen(actor=personas.steward, grievance=case, reason="new evidence")
        case.refresh_from_db()
        assert case.status == "open" and case.outcome == "" and case.due_date is not None
        with pytest.raises(GrievanceError):
            grievance_reopen(actor=personas.steward, grievance=case, reason="again")


class TestAssignment:
    def test_only_officers_who_work_grievances_can_be_assigned(self, personas: Personas) -> None:
        case = make_case(personas, assign=False)
        for wrong in (personas.member, personas.outsider, personas.representative):
            with pytest.raises(GrievanceError):
                grievance_assign(actor=personas.local_admin, grievance=case, steward=wrong)
        grievance_assign(actor=personas.local_admin, grievance=case, steward=personas.steward)
        assert AuditEvent.objects.filter(action="grievance.assign").exists()


class TestTimeline:
    def test_internal_notes_are_never_shared(self, personas: Personas) -> None:
        case = make_case(personas)
        event = event_add(actor=personas.steward, grievance=case, kind="note", body="Strategy", shared=True)
        assert not event.shared

    def test_a_correction_adds_an_event_and_keeps_the_original(self, personas: Personas) -> None:
        case = make_case(personas)
        original = event_add(actor=personas.steward, grievance=case, kind="meeting", body="Met HR on Monday")
        correction = event_correct(actor=personas.steward, event=original, body="Met HR on Tuesday")
        original.refresh_from_db()
        assert original.body == "Met HR on Monday" and correction.corrects == original
        with pytest.raises(GrievanceError):
            event_correct(actor=personas.steward, event=correction, body="again")

    def test_empty_notes_are_refused(self, personas: Personas) -> None:
        case = make_case(personas)
        before = case.events.count()
        with pytest.raises(GrievanceError):
            event_add(actor=personas.steward, grievance=case, kind="note", body="   ")
        assert case.events.count() == before


class TestDeadlineFlags:
    def test_overdue_and_due_soon(self, personas: Personas) -> None:
        case = make_case(personas)
        Grievance.objects.filter(pk=case.pk).update(due_date=date(2026, 12, 24))
        case.refresh_from_db()
        assert case.deadline_state(date(2026, 12, 28)) == "overdue"
        assert case.deadline_state(date(2026, 12, 21)) == "due_soon"
        assert case.deadline_state(date(2026, 12, 1)) == "ok"


def test_people_told_of_a_change_get_an_email_without_details(
        personas: Personas, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
    from django.core import mail

    case = make_case(personas, assign=False)
    with django_capture_on_commit_callbacks(execute=True):
        grievance_assign(actor=personas.local_admin, grievance=case, steward=personas.steward)
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert personas.steward.email in recipients
    for message in mail.outbox:
        text = f"{message.subject}{message.body}"
        assert number(case) not in text and case.title not in text and "grievance" not in text.lower()
        assert "/account/login/" in message.body
