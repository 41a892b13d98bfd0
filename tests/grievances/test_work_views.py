"""Working a case through its pages: steps, outcomes, reopening, stewards, adverse actions, the register."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grievances.models import AdverseAction, Grievance
from grievances.services import adverse_action_add, grievance_close
from membership.models import Member
from tests.base import Personas, login_as
from tests.grievances.factories import current_step, make_case
from union.models import AuditEvent


def post(p: Personas, persona: str, grievance: Grievance, action: str, data: dict[str, Any]) -> Any:
    client = login_as(Client(), p.get(persona))
    return client.post(reverse(f"grievances:work_{action}", kwargs={"code": grievance.code}), data)


def detail(grievance: Grievance) -> str:
    return reverse("grievances:detail", kwargs={"code": grievance.code})


def fresh(grievance: Grievance) -> Grievance:
    return Grievance.objects.get(pk=grievance.pk)


class TestAdvance:
    def test_it_moves_to_the_next_step_from_the_event_date(self, personas: Personas) -> None:
        case = make_case(personas, country="KE")
        response = post(personas, "steward", case, "advance", {"step": "investigation", "triggered_on": "2025-12-19"})
        assert response.status_code == 302 and response["Location"] == detail(case)
        case = fresh(case)
        # 10 working days from Friday 19 Dec 2025 in Kenya skip Christmas, Boxing Day and New Year's Day.
        assert current_step(case).slug == "investigation" and case.step_started == date(2025, 12, 19)
        assert case.due_date == date(2026, 1, 7)
        assert AuditEvent.objects.filter(action="grievance.advance").count() == 1

    def test_skipping_a_step_shows_the_message_and_changes_nothing(self, personas: Personas) -> None:
        case = make_case(personas)
        response = post(personas, "steward", case, "advance", {"step": "step-2", "triggered_on": "2026-01-05"})
        assert response.status_code == 400
        assert "one step forward at a time" in response.content.decode()
        assert current_step(fresh(case)).slug == "intake" and fresh(case).due_date == case.due_date
        assert not AuditEvent.objects.filter(action="grievance.advance").exists()

    def test_a_future_date_is_refused(self, personas: Personas) -> None:
        case = make_case(personas)
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        response = post(personas, "steward", case, "advance", {"step": "investigation", "triggered_on": tomorrow})
        assert response.status_code == 400 and current_step(fresh(case)).slug == "intake"

    def test_a_closed_case_does_not_advance(self, personas: Personas) -> None:
        case = make_case(personas)
        grievance_close(actor=personas.steward, grievance=case, outcome="won", summary="Paid.")
        response = post(personas, "steward", case, "advance", {"step": "investigation", "triggered_on": "2026-01-05"})
        assert response.status_code == 400 and "not open" in response.content.decode()
        assert current_step(fresh(case)).slug == "intake"

    @pytest.mark.parametrize(("persona", "status"), [
        ("organizer", 403), ("representative", 403), ("member", 403), ("outsider", 404),
    ])
    def test_those_who_do_not_work_the_case_are_refused(self, personas: Personas, persona: str,
                                                        status: int) -> None:
        case = make_case(personas)
        response = post(personas, persona, case, "advance", {"step": "investigation", "triggered_on": "2026-01-05"})
        assert response.status_code == status and current_step(fresh(case)).slug == "intake"

    def test_an_unknown_case_is_404(self, personas: Personas) -> None:
        client = login_as(Client(), personas.local_admin)
        url = reverse("grievances:work_advance", kwargs={"code": "00000000-0000-0000-0000-000000000000"})
        assert client.post(url, {"step": "investigation", "triggered_on": "2026-01-05"}).status_code == 404


class TestClose:
    def test_a_settlement_is_closed_with_its_amount(self, personas: Personas) -> None:
        case = make_case(personas)
        response = post(personas, "steward", case, "close",
                        {"outcome": "settled", "amount": "1250.50", "summary": "Back pay agreed."})
        assert response.status_code == 302
        case = fresh(case)
        assert case.status == Grievance.Status.CLOSED and case.outcome == "settled"
        assert str(case.settlement_amount) == "1250.50"
        assert case.events.get(kind="outcome").body == "Back pay agreed."

    def test_a_settlement_without_an_amount_changes_nothing(self, personas: Personas) -> None:
        case = make_case(personas)
        response = post(personas, "steward", case, "close", {"outcome": "settled", "summary": "Agreed."})
        assert response.status_code == 400
        assert "needs the amount agreed" in response.content.decode()
        assert fresh(case).status == Grievance.Status.OPEN

    @pytest.mark.parametrize("data", [
        {"outcome": "victory", "summary": "x"},
        {"outcome": "won", "summary": ""},
        {"outcome": "lost", "amount": "-5", "summary": "x"},
    ])
    def test_bad_input_changes_nothing(self, personas: Personas, data: dict[str, str]) -> None:
        case = make_case(personas)
        assert post(personas, "steward", case, "close", data).status_code == 400
        assert fresh(case).status == Grievance.Status.OPEN

    def test_it_answers_get_with_405(self, personas: Personas) -> None:
        case = make_case(personas)
        client = login_as(Client(), personas.steward)
        assert client.get(reverse("grievances:work_close", kwargs={"code": case.code})).status_code == 405


class TestReopen:
    def test_it_reopens_with_a_reason(self, personas: Personas) -> None:
        case = make_case(personas)
        grievance_close(actor=personas.steward, grievance=case, outcome="lost", summary="Lost.")
        response = post(personas, "local_admin", case, "reopen", {"reason": "New evidence from the payslips."})
        assert response.status_code == 302
        case = fresh(case)
        assert case.status == Grievance.Status.OPEN and case.outcome == "" and case.due_date is not None

    def test_an_open_case_cannot_be_reopened(self, personas: Personas) -> None:
        case = make_case(personas)
        response = post(personas, "steward", case, "reopen", {"reason": "Why not."})
        assert response.status_code == 400 and "Only a closed case" in response.content.decode()

    def test_a_reason_is_required(self, personas: Personas) -> None:
        case = make_case(personas)
        grievance_close(actor=personas.steward, grievance=case, outcome="lost", summary="Lost.")
        assert post(personas, "steward", case, "reopen", {"reason": ""}).status_code == 400
        assert fresh(case).status == Grievance.Status.CLOSED


class TestAssign:
    def test_it_reassigns_to_another_officer_who_works_grievances(self, personas: Personas) -> None:
        case = make_case(personas)
        response = post(personas, "local_admin", case, "assign", {"steward": personas.local_admin.handle})
        assert response.status_code == 302 and fresh(case).steward == personas.local_admin
        assert AuditEvent.objects.filter(action="grievance.assign").count() == 2  # make_case assigned once

    @pytest.mark.parametrize("handle", ["organizer", "member", "outsider"])
    def test_only_those_who_work_grievances_in_the_local_are_offered(self, personas: Personas, handle: str) -> None:
        case = make_case(personas)
        candidate = personas.get(handle)
        assert candidate is not None
        response = post(personas, "local_admin", case, "assign", {"steward": candidate.handle})
        assert response.status_code == 400 and fresh(case).steward == personas.steward

    def test_the_page_lists_the_possible_stewards(self, personas: Personas) -> None:
        case = make_case(personas)
        page = login_as(Client(), personas.steward).get(
            reverse("grievances:work_actions", kwargs={"code": case.code})).content.decode()
        assert f'value="{personas.local_admin.handle}"' in page and f'value="{personas.steward.handle}"' in page
        assert f'value="{personas.organizer.handle}"' not in page


class TestAdverseAction:
    def test_it_records_the_action(self, personas: Personas) -> None:
        case = make_case(personas, category="retaliation")
        response = post(personas, "steward", case, "adverse",
                        {"kind": "deactivation", "occurred_on": "2026-01-05", "description": "Account locked."})
        assert response.status_code == 302
        action = AdverseAction.objects.get()
        assert action.kind == "deactivation" and action.occurred_on == date(2026, 1, 5)
        assert action.description == "Account locked." and action.recorded_by == personas.steward

    @pytest.mark.parametrize("data", [{"kind": "promotion", "occurred_on": "2026-01-05"}, {"kind": "dismissal"},
                                      {"kind": "dismissal", "occurred_on": "2999-01-01"}])
    def test_bad_input_records_nothing(self, personas: Personas, data: dict[str, str]) -> None:
        case = make_case(personas, category="retaliation")
        assert post(personas, "steward", case, "adverse", data).status_code == 400
        assert not AdverseAction.objects.exists()


class TestRegister:
    def test_organizing_and_adverse_actions_are_one_dated_sequence(self, personas: Personas) -> None:
        case = make_case(personas, category="retaliation")
        member = Member.objects.get(user=personas.member)
        tz = timezone.get_current_timezone()
        member.joined_at = datetime(2025, 9, 1, 12, tzinfo=tz)
        member.verified_at = datetime(2025, 9, 10, 12, tzinfo=tz)
        member.save()
        adverse_action_add(actor=personas.steward, grievance=case, kind="quota", occurred_on=date(2025, 9, 5))
        adverse_action_add(actor=personas.steward, grievance=case, kind="dismissal", occurred_on=date(2025, 9, 24),
                           description="Let go after the meeting.")
        response = login_as(Client(), personas.organizer).get(
            reverse("grievances:work_register", kwargs={"code": case.code}))
        assert response.status_code == 200
        page = response.content.decode()
        order = [page.index(text) for text in ("Joined the union", "Quota change", "Membership verified",
                                                "Dismissal")]
        assert order == sorted(order)
        assert "14 days after union activity" in page and "4 days after union activity" in page
        assert "Let go after the meeting." in page
        assert AuditEvent.objects.filter(action="grievance.register_view").count() == 1

    def test_it_is_only_for_retaliation_cases(self, personas: Personas) -> None:
        case = make_case(personas, category="pay")
        client = login_as(Client(), personas.steward)
        assert client.get(reverse("grievances:work_register", kwargs={"code": case.code})).status_code == 404

    @pytest.mark.parametrize("persona", ["member", "outsider"])
    def test_it_is_for_officers_only(self, personas: Personas, persona: str) -> None:
        case = make_case(personas, category="retaliation")
        client = login_as(Client(), personas.get(persona))
        assert client.get(reverse("grievances:work_register", kwargs={"code": case.code})).status_code == 404
        assert not AuditEvent.objects.filter(action="grievance.register_view").exists()


class TestActionsInclude:
    def test_the_include_links_to_what_the_viewer_may_use(self, personas: Personas) -> None:
        from django.template.loader import render_to_string

        case = make_case(personas, category="retaliation")
        officer = render_to_string("grievances/work/_actions.html",
                                   {"grievance": case, "level": "officer", "can_work": True})
        grievant = render_to_string("grievances/work/_actions.html",
                                    {"grievance": case, "level": "grievant", "can_work": False})
        for name in ("work_actions", "work_register", "work_evidence", "work_letters"):
            assert reverse(f"grievances:{name}", kwargs={"code": case.code}) in officer
        assert reverse("grievances:work_evidence", kwargs={"code": case.code}) in grievant
        for name in ("work_actions", "work_register", "work_letters"):
            assert reverse(f"grievances:{name}", kwargs={"code": case.code}) not in grievant
