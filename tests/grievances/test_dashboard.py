"""The grievance dashboard of a local and its CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grievances import charts
from grievances.models import Grievance, Step
from grievances.services import event_add, grievance_advance, grievance_close
from membership.services import role_grant
from tests.base import Personas, login_as
from tests.factories import make_member, make_totp
from tests.grievances.factories import current_step, make_case
from union.models import AuditEvent

if TYPE_CHECKING:
    from tests.base import TestResponse

pytestmark = pytest.mark.django_db


def dash_url(p: Personas) -> str:
    return reverse("grievances:dash_local", kwargs={"code": p.local.code})


def export_url(p: Personas) -> str:
    return reverse("grievances:dash_export", kwargs={"code": p.local.code})


def table(html: str, heading_id: str) -> dict[str, int]:
    """The rows of the table labelled by `heading_id`, label -> count."""
    section = html.split(f'aria-labelledby="{heading_id}"', 2)[2].split("</table>")[0]
    rows = re.findall(r'<th scope="row">(.*?)</th><td class="num">(\d+)</td>', section)
    return {label: int(n) for label, n in rows}


def csv_rows(response: TestResponse) -> list[dict[str, str]]:
    text = b"".join(response).decode()
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def advance(p: Personas, grievance: Grievance) -> Grievance:
    nxt = Step.objects.filter(union=grievance.union, position__gt=current_step(grievance).position).order_by("position").first()
    assert nxt is not None, "the case is not at the last step"
    return grievance_advance(actor=p.steward, grievance=grievance, step=nxt)


class TestDashboard:
    def test_it_counts_open_cases_by_step_deadline_category_employer_and_month(self, personas: Personas) -> None:
        p = personas
        a = make_case(p, category="pay")
        b = make_case(p, category="health")
        advance(p, b)
        c = make_case(p, category="pay")
        grievance_close(actor=p.steward, grievance=c, outcome="won")
        Grievance.objects.filter(pk=a.pk).update(due_date=timezone.localdate() - timedelta(days=1))
        make_case(p, submit=False)  # a draft is nobody's figure but its author's
        response = login_as(Client(), p.organizer).get(dash_url(p))
        assert response.status_code == 200
        html = response.content.decode()
        assert table(html, "steps-heading") == {"Intake": 1, "Investigation": 1}
        assert table(html, "deadlines-heading")["Overdue"] == 1
        assert sum(table(html, "deadlines-heading").values()) == 2
        assert table(html, "categories-heading") == {"Pay": 2, "Health and safety": 1}
        assert sorted(table(html, "employers-heading").values()) == [1, 1, 1]
        months = table(html, "months-heading")
        assert len(months) == 12 and sum(months.values()) == 3
        assert list(months.values())[-1] == 3
        assert html.count("<svg") == 5 and " style=" not in html

    def test_it_filters_by_category_status_unit_and_dates(self, personas: Personas) -> None:
        p = personas
        a = make_case(p, category="pay")
        make_case(p, category="health")
        closed = make_case(p, category="pay")
        grievance_close(actor=p.steward, grievance=closed, outcome="lost")
        client = login_as(Client(), p.steward)
        html = client.get(dash_url(p), {"category": "pay", "status": "open"}).content.decode()
        assert table(html, "categories-heading") == {"Pay": 1}
        assert a.unit is not None
        html = client.get(dash_url(p), {"unit": str(a.unit.code)}).content.decode()
        assert table(html, "categories-heading") == {"Pay": 1}
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        html = client.get(dash_url(p), {"opened_from": tomorrow}).content.decode()
        assert "No cases." in html and "0 cases match" in html

    def test_restricted_cases_count_only_for_who_may_see_them(self, personas: Personas) -> None:
        p = personas
        make_case(p, category="pay")
        make_case(p, category="retaliation", confidentiality=Grievance.Confidentiality.RESTRICTED)
        # The organizer sees the local's cases, but not a restricted one assigned to someone else.
        assert table(login_as(Client(), p.organizer).get(dash_url(p)).content.decode(),
                     "categories-heading") == {"Pay": 1}
        for officer in (p.local_admin, p.steward):  # a local admin, and the steward assigned to it
            html = login_as(Client(), officer).get(dash_url(p)).content.decode()
            assert table(html, "categories-heading") == {"Pay": 1, "Retaliation for union activity": 1}

    def test_it_runs_the_same_number_of_queries_for_3_and_30_cases(self, personas: Personas) -> None:
        p = personas
        client = login_as(Client(), p.local_admin)

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(dash_url(p)).status_code == 200
            return len(ctx.captured_queries)

        for _i in range(3):
            make_case(p)
        few = count()
        for i in range(27):
            make_case(p, category=["pay", "health", "other"][i % 3])
        assert count() == few

    def test_it_refuses_bad_filters_with_a_form_error(self, personas: Personas) -> None:
        client = login_as(Client(), personas.steward)
        response = client.get(dash_url(personas), {"opened_from": "2026-02-01", "opened_to": "2026-01-01"})
        assert response.status_code == 400
        assert "The first date must not be after the last." in response.content.decode()
        response = client.get(dash_url(personas), {"category": "no-such", "unit": "not-a-uuid"})
        assert response.status_code == 400
        assert response.content.decode().count('role="alert"') >= 2

    def test_it_hides_the_local_from_members_and_outsiders(self, personas: Personas) -> None:
        for user in (personas.member, personas.outsider):
            assert login_as(Client(), user).get(dash_url(personas)).status_code == 404

    def test_it_hides_another_locals_dashboard_from_an_officer(self, personas: Personas) -> None:
        url = reverse("grievances:dash_local", kwargs={"code": personas.other_local.code})
        assert login_as(Client(), personas.local_admin).get(url).status_code == 404

    def test_it_refuses_post(self, personas: Personas) -> None:
        client = login_as(Client(), personas.steward)
        assert client.post(dash_url(personas)).status_code == 405
        assert client.post(export_url(personas)).status_code == 405

    def test_it_is_not_cached(self, personas: Personas) -> None:
        response = login_as(Client(), personas.steward).get(dash_url(personas))
        assert "no-store" in response["Cache-Control"]


class TestDeadlineFigures:
    def test_due_soon_counts_working_days_over_kenyan_holidays(self, personas: Personas) -> None:
        p = personas
        case = make_case(p, country="KE")
        # 2025-12-24 (Wednesday): the 25th and 26th are holidays, then a weekend, so the 31st is
        # three working days away (29, 30, 31): due soon. Without the holidays it would not be.
        Grievance.objects.filter(pk=case.pk).update(due_date=date(2025, 12, 31))
        qs = Grievance.objects.filter(pk=case.pk)
        today = date(2025, 12, 24)
        assert charts.deadlines(qs, charts.due_soon_limits(p.local, today), today)["due_soon"] == 1
        assert Grievance.objects.get(pk=case.pk).deadline_state(today) == "due_soon"
        today = date(2025, 12, 23)
        assert charts.deadlines(qs, charts.due_soon_limits(p.local, today), today)["due_soon"] == 0
        assert Grievance.objects.get(pk=case.pk).deadline_state(today) == "ok"

    def test_due_soon_agrees_with_the_model_on_every_day_of_a_month(self, personas: Personas) -> None:
        p = personas
        case = make_case(p, country="KE")
        today = date(2025, 12, 8)
        for offset in range(30):
            due = today + timedelta(days=offset)
            Grievance.objects.filter(pk=case.pk).update(due_date=due)
            qs = Grievance.objects.filter(pk=case.pk)
            figures = charts.deadlines(qs, charts.due_soon_limits(p.local, today), today)
            expected = Grievance.objects.get(pk=case.pk).deadline_state(today)
            assert figures["due_soon"] == (expected == "due_soon"), due


class TestExport:
    def test_it_streams_the_filtered_cases_without_narrative_notes_or_names(self, personas: Personas) -> None:
        p = personas
        case = make_case(p, category="pay", narrative="CANARY-NARRATIVE night shift")
        event_add(actor=p.steward, grievance=case, kind="note", body="CANARY-NOTE called HR")
        make_case(p, category="health")
        response = login_as(Client(), p.steward).get(export_url(p), {"category": "pay"})
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith("attachment;")
        rows = csv_rows(response)
        assert [r["number"] for r in rows] == [case.number]
        assert rows[0]["category"] == "Pay" and rows[0]["grievants"] == "1" and rows[0]["steward"] == p.steward.handle
        flat = " ".join(" ".join(r.values()) for r in rows) + " ".join(rows[0].keys())
        for secret in ("CANARY", "Pay what is owed", p.member.handle, p.member.member.pseudonym):
            assert secret not in flat

    def test_it_neutralises_spreadsheet_formulas(self, personas: Personas) -> None:
        p = personas
        for i, start in enumerate(["=", "+", "-", "@", "\t", "\r"]):
            case = make_case(p, contract_article=f"{start}HYPERLINK(\"http://evil\") {i}")
            Grievance.objects.filter(pk=case.pk).update(title=f"{start}cmd|' /C calc'!A0")
        rows = csv_rows(login_as(Client(), p.steward).get(export_url(p)))
        assert len(rows) == 6
        for row in rows:
            assert row["title"].startswith("'") and row["contract_article"].startswith("'")

    def test_it_records_the_export_in_the_audit_log(self, personas: Personas) -> None:
        p = personas
        make_case(p)
        make_case(p)
        response = login_as(Client(), p.organizer).get(export_url(p))
        assert len(csv_rows(response)) == 2
        event = AuditEvent.objects.filter(action="grievance.export").get()
        assert event.actor_id == p.organizer.pk and event.local_id == p.local.pk and event.details == {"rows": 2}

    def test_it_exports_restricted_cases_only_to_who_may_see_them(self, personas: Personas) -> None:
        p = personas
        make_case(p, confidentiality=Grievance.Confidentiality.RESTRICTED)
        assert csv_rows(login_as(Client(), p.organizer).get(export_url(p))) == []
        assert len(csv_rows(login_as(Client(), p.local_admin).get(export_url(p)))) == 1

    def test_bad_filters_export_nothing_and_audit_nothing(self, personas: Personas) -> None:
        p = personas
        make_case(p)
        response = login_as(Client(), p.steward).get(export_url(p), {"status": "draft"})
        assert response.status_code == 400 and not response.streaming
        assert not AuditEvent.objects.filter(action="grievance.export").exists()

    def test_it_refuses_members_outsiders_and_other_locals_officers(self, personas: Personas) -> None:
        p = personas
        other_steward = make_member(p.other_local, "steward")
        make_totp(other_steward)
        for user in (p.member, p.outsider, other_steward):
            assert login_as(Client(), user).get(export_url(p)).status_code == 404
        assert not AuditEvent.objects.filter(action="grievance.export").exists()

    def test_a_revoked_officer_loses_the_export(self, personas: Personas) -> None:
        p = personas
        role_grant(actor=None, user=p.organizer, local=p.local, role="member")
        assert login_as(Client(), p.organizer).get(export_url(p)).status_code == 404


class TestMonthLabels:
    def test_months_are_named_not_numbered(self) -> None:
        from django.utils import translation

        months = [(date(2026, 1, 1), 3), (date(2026, 2, 1), 0)]
        svg = str(charts.months_svg(months, title="t"))
        assert "Jan 26" in svg and "Feb 26" in svg
        assert "01/26" not in svg
        with translation.override("fr"):
            assert "Fév 26" in str(charts.months_svg(months, title="t"))
