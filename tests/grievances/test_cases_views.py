"""The grievance case pages: intake, drafts, lists, the case page and its timeline."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grievances.defaults import ensure_defaults
from grievances.models import Category, Event, Grievance, Grievant
from grievances.services import event_add
from membership.models import Member
from tests.base import Personas, login_as
from tests.factories import make_member
from tests.grievances.factories import make_case, number
from union.models import AuditEvent

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"grievances:{name}", kwargs=kwargs)


def client_for(user: Any) -> Client:
    return login_as(Client(), user)


def category(p: Personas, slug: str = "health") -> Category:
    ensure_defaults(p.local.union)
    return Category.objects.get(union=p.local.union, slug=slug)


def intake(p: Personas, **extra: Any) -> dict[str, Any]:
    data = {"category": category(p).pk, "title": "Graphic queue without breaks", "incident_date": "2026-02-03",
            "narrative": "I was moved to the gore queue for nine hours.", "remedy": "Counselling and rotation"}
    data.update(extra)
    return data


def audits(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# Intake by the member -------------------------------------------------------------------------------

def test_it_shows_the_intake_form_with_kind_words(personas: Personas) -> None:
    category(personas)
    response = client_for(personas.member).get(url("case_new"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "You do not need to describe or upload any harmful content" in body
    assert "psychological harm" in body  # category descriptions shown beside the names
    assert 'name="letter_may_name"' in body and 'name="letter_may_name" checked' not in body
    assert 'name="grievants"' not in body and 'name="confidentiality"' not in body


def test_it_saves_a_draft_then_submits_it(personas: Personas) -> None:
    client = client_for(personas.member)
    before = audits("grievance.draft")
    response = client.post(url("case_new"), intake(personas, narrative="Short.", sensitive="on"))
    assert response.status_code == 302
    grievance = next(g for g in Grievance.objects.all() if g.title == "Graphic queue without breaks")
    assert response["Location"] == url("detail", code=grievance.code)
    assert grievance.status == Grievance.Status.DRAFT and grievance.sensitive and not grievance.letter_may_name
    assert list(grievance.grievants.values_list("user", flat=True)) == [personas.member.pk]
    assert audits("grievance.draft") == before + 1
    # Nobody else sees the draft yet.
    assert client_for(personas.steward).get(url("detail", code=grievance.code)).status_code == 404
    response = client.post(url("case_edit", code=grievance.code), intake(personas, title="Gore queue, no breaks",
                                                                          letter_may_name="on"))
    assert response.status_code == 302
    grievance.refresh_from_db()
    assert grievance.title == "Gore queue, no breaks" and grievance.letter_may_name and not grievance.sensitive
    response = client.post(url("case_submit", code=grievance.code))
    assert response.status_code == 302
    grievance.refresh_from_db()
    assert grievance.status == Grievance.Status.OPEN and grievance.number.startswith("GRV-")
    assert audits("grievance.submit") == 1
    assert client_for(personas.representative).get(url("detail", code=grievance.code)).status_code == 200
    # A filed case is no longer a draft to edit or submit again.
    assert client.get(url("case_edit", code=grievance.code)).status_code == 403
    assert client.post(url("case_submit", code=grievance.code)).status_code == 403


def test_it_accepts_a_case_with_no_narrative(personas: Personas) -> None:
    response = client_for(personas.member).post(url("case_new"), intake(personas, narrative="", remedy=""))
    assert response.status_code == 302
    assert Grievance.objects.get().narrative is None


def test_bad_intake_changes_nothing(personas: Personas) -> None:
    client = client_for(personas.member)
    for data in (intake(personas, title=""), intake(personas, category=999999),
                 intake(personas, incident_date="not a date")):
        response = client.post(url("case_new"), data)
        assert response.status_code == 400
        assert b'role="alert"' in response.content
    assert not Grievance.objects.exists()
    assert audits("grievance.draft") == 0


def test_bad_edit_changes_nothing(personas: Personas) -> None:
    grievance = make_case(personas, submit=False)
    response = client_for(personas.member).post(url("case_edit", code=grievance.code), intake(personas, title=""))
    assert response.status_code == 400
    grievance.refresh_from_db()
    assert grievance.title == "Unpaid overtime"


def test_intake_pages_refuse_the_wrong_method(personas: Personas) -> None:
    grievance = make_case(personas, submit=False)
    client = client_for(personas.member)
    assert client.put(url("case_new")).status_code == 405
    assert client.get(url("case_submit", code=grievance.code)).status_code == 405
    assert client.delete(url("case_edit", code=grievance.code)).status_code == 405
    assert client_for(personas.steward).put(url("case_new_for")).status_code == 405


def test_outsiders_cannot_edit_or_submit_a_draft(personas: Personas) -> None:
    grievance = make_case(personas, submit=False)
    for user in (personas.outsider, personas.steward, personas.local_admin):
        client = client_for(user)
        assert client.get(url("case_edit", code=grievance.code)).status_code == 404
        assert client.post(url("case_submit", code=grievance.code)).status_code == 404
    grievance.refresh_from_db()
    assert grievance.status == Grievance.Status.DRAFT


# Intake by a steward ---------------------------------------------------------------------------------

def test_a_steward_files_a_group_grievance(personas: Personas) -> None:
    make_member(personas.local, handle="colleague")
    data = intake(personas, grievants=f"{personas.member.member.pseudonym}, colleague-p",
                  contract_article="Art. 12", confidentiality="no_letter")
    response = client_for(personas.steward).post(url("case_new_for"), data)
    assert response.status_code == 302
    grievance = Grievance.objects.get()
    assert grievance.filed_by == personas.steward and grievance.contract_article == "Art. 12"
    assert grievance.confidentiality == Grievance.Confidentiality.NO_LETTER
    assert sorted(grievance.grievants.values_list("pseudonym", flat=True)) == sorted(
        [personas.member.member.pseudonym, "colleague-p"])
    response = client_for(personas.steward).post(url("case_submit", code=grievance.code))
    assert response.status_code == 302
    # Both grievants now see their case.
    assert client_for(personas.member).get(url("detail", code=grievance.code)).status_code == 200


def test_a_steward_cannot_file_for_someone_outside_the_local(personas: Personas) -> None:
    data = intake(personas, grievants=personas.outsider.member.pseudonym, confidentiality="normal")
    response = client_for(personas.steward).post(url("case_new_for"), data)
    assert response.status_code == 400
    assert "No member of this local uses the pseudonym" in response.content.decode()
    assert not Grievance.objects.exists()


def test_read_only_officers_cannot_file_for_members(personas: Personas) -> None:
    data = intake(personas, grievants=personas.member.member.pseudonym, confidentiality="normal")
    for user in (personas.representative, personas.organizer, personas.member):
        assert client_for(user).post(url("case_new_for"), data).status_code == 403
    assert not Grievance.objects.exists()


# Lists -----------------------------------------------------------------------------------------------

def _cases(p: Personas, n: int) -> list[Grievance]:
    cases = [make_case(p) for _ in range(n)]
    # Distinct deadlines: the first overdue, the second due today, the others weeks away.
    for i, case in enumerate(cases):
        Grievance.objects.filter(pk=case.pk).update(due_date=timezone.localdate() + timedelta(days=-3 if i == 0 else (i - 1) * 30))
    return cases


def test_my_cases_is_sorted_by_deadline_with_text_flags(personas: Personas) -> None:
    cases = _cases(personas, 3)
    response = client_for(personas.steward).get(url("case_mine"))
    assert response.status_code == 200
    body = response.content.decode()
    positions = [body.index(number(c)) for c in cases]
    assert positions == sorted(positions)
    assert "Overdue" in body and "Due soon" in body


@pytest.mark.parametrize("name", ["case_mine", "case_list", "case_own"])
def test_lists_take_a_fixed_number_of_queries(personas: Personas, name: str,
                                              django_assert_num_queries: Any) -> None:
    _cases(personas, 3)
    user = personas.member if name == "case_own" else personas.steward
    client = client_for(user)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(name)).status_code == 200
    _cases(personas, 27)
    with django_assert_num_queries(len(few)):
        response = client.get(url(name))
    assert response.content.decode().count('class="case ') == 30


def test_the_local_list_filters_and_hides_other_locals(personas: Personas) -> None:
    pay = make_case(personas)
    health = make_case(personas, category="health")
    client = client_for(personas.representative)
    body = client.get(url("case_list")).content.decode()
    assert number(pay) in body and number(health) in body
    body = client.get(url("case_list"), {"category": category(personas, "health").pk}).content.decode()
    assert number(health) in body and number(pay) not in body
    assert number(pay) not in client.get(url("case_list"), {"status": "closed"}).content.decode()
    assert client_for(personas.outsider).get(url("case_list")).status_code == 302
    assert number(pay) not in client_for(personas.outsider).get(url("case_own")).content.decode()


def test_a_member_sees_only_their_own_cases(personas: Personas) -> None:
    theirs = make_case(personas)
    other = make_member(personas.local, handle="other")
    not_theirs = make_case(personas)
    Grievant.objects.filter(grievance=not_theirs).update(member=other.member)
    body = client_for(personas.member).get(url("case_own")).content.decode()
    assert number(theirs) in body and number(not_theirs) not in body
    assert client_for(personas.member).get(url("detail", code=not_theirs.code)).status_code == 404


def test_lists_refuse_the_wrong_method(personas: Personas) -> None:
    for name in ("case_list", "case_mine", "case_own"):
        assert client_for(personas.steward).post(url(name)).status_code == 405


# The case page and its timeline --------------------------------------------------------------------

def test_the_case_page_shows_the_facts(personas: Personas) -> None:
    Member.objects.filter(user=personas.steward).update(pseudonym="Comrade Wanjiru")
    grievance = make_case(personas, contract_article="Art. 7")
    response = client_for(personas.member).get(url("detail", code=grievance.code))
    assert response.status_code == 200
    body = response.content.decode()
    assert number(grievance) in body and "Art. 7" in body and "They did not pay the night shift." in body
    assert personas.member.member.pseudonym in body and "Comrade Wanjiru" in body
    assert personas.steward.handle not in body  # login handles are never shown
    assert "no-cache" in response["Cache-Control"]


def test_guessed_and_foreign_case_codes_answer_404(personas: Personas) -> None:
    grievance = make_case(personas)
    assert client_for(personas.outsider).get(url("detail", code=grievance.code)).status_code == 404
    assert client_for(personas.local_admin).get(url("detail", code=uuid.uuid4())).status_code == 404
    assert client_for(personas.outsider).post(url("case_event_add", code=grievance.code),
                                              {"kind": "note", "body": "x"}).status_code == 404


def test_a_sensitive_case_shows_a_content_warning_first(personas: Personas) -> None:
    grievance = make_case(personas, sensitive=True, narrative="Beheading video on loop.")
    client = client_for(personas.steward)
    body = client.get(url("detail", code=grievance.code)).content.decode()
    assert "Content warning" in body and "Beheading video" not in body and "?show=1" in body
    body = client.get(url("detail", code=grievance.code), {"show": "1"}).content.decode()
    assert "Beheading video on loop." in body


def test_a_steward_adds_notes_and_a_grievant_never_sees_the_internal_one(personas: Personas) -> None:
    grievance = make_case(personas)
    steward = client_for(personas.steward)
    posts = [
        {"kind": "note", "body": "Internal: HR manager is hostile.", "shared": "on"},
        {"kind": "shared_note", "body": "We have asked for a meeting."},
        {"kind": "meeting", "body": "Met the team lead.", "occurred_on": "2026-03-02"},
        {"kind": "employer_response", "body": "Employer denies the claim.", "shared": "on"},
    ]
    for data in posts:
        response = steward.post(url("case_event_add", code=grievance.code), data)
        assert response.status_code == 302
    assert audits("grievance.event") == 4
    note = Event.objects.get(grievance=grievance, kind=Event.Kind.NOTE)
    assert not note.shared  # an internal note stays internal even if "shared" is ticked
    officer_view = client_for(personas.representative).get(url("detail", code=grievance.code)).content.decode()
    assert "Internal: HR manager is hostile." in officer_view and "Met the team lead." in officer_view
    grievant_view = client_for(personas.member).get(url("detail", code=grievance.code)).content.decode()
    assert "HR manager is hostile" not in grievant_view
    assert "Met the team lead." not in grievant_view  # meetings are internal unless shared
    assert "We have asked for a meeting." in grievant_view and "Employer denies the claim." in grievant_view
    assert "Add to the timeline" not in grievant_view


def test_bad_event_input_changes_nothing(personas: Personas) -> None:
    grievance = make_case(personas)
    before = Event.objects.count()
    steward = client_for(personas.steward)
    for data in ({"kind": "note", "body": "   "}, {"kind": "outcome", "body": "Won"},
                 {"kind": "note", "body": "x", "occurred_on": "yesterday"}):
        assert steward.post(url("case_event_add", code=grievance.code), data).status_code == 400
    assert Event.objects.count() == before
    assert steward.get(url("case_event_add", code=grievance.code)).status_code == 405


def test_read_only_officers_and_grievants_cannot_write(personas: Personas) -> None:
    grievance = make_case(personas)
    event = event_add(actor=personas.steward, grievance=grievance, kind="shared_note", body="Original.")
    before = Event.objects.count()
    for user in (personas.representative, personas.organizer, personas.member):
        client = client_for(user)
        assert client.post(url("case_event_add", code=grievance.code), {"kind": "note", "body": "x"}).status_code == 403
        assert client.post(url("case_event_correct", code=grievance.code, event=event.code),
                           {"body": "x"}).status_code == 403
    assert Event.objects.count() == before


def test_a_correction_is_added_beside_the_original(personas: Personas) -> None:
    grievance = make_case(personas)
    event = event_add(actor=personas.steward, grievance=grievance, kind="shared_note", body="Meeting on Monday.")
    steward = client_for(personas.steward)
    page = url("case_event_correct", code=grievance.code, event=event.code)
    assert steward.get(page).status_code == 200
    assert steward.post(page, {"body": "  "}).status_code == 400
    response = steward.post(page, {"body": "Meeting on Tuesday, not Monday."})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.body == "Meeting on Monday."  # never rewritten
    fix = Event.objects.get(corrects=event)
    assert fix.kind == Event.Kind.CORRECTION and fix.shared
    assert audits("grievance.correct") == 1
    body = client_for(personas.member).get(url("detail", code=grievance.code)).content.decode()
    assert body.index("Meeting on Monday.") < body.index("Meeting on Tuesday, not Monday.")
    # A correction is not corrected in turn; an event of another case is not found here.
    assert steward.get(url("case_event_correct", code=grievance.code, event=fix.code)).status_code == 404
    other = make_case(personas)
    assert steward.get(url("case_event_correct", code=other.code, event=event.code)).status_code == 404
    assert steward.put(page).status_code == 405


def test_restricted_cases_are_hidden_from_ordinary_officers(personas: Personas) -> None:
    grievance = make_case(personas, confidentiality=Grievance.Confidentiality.RESTRICTED)
    assert client_for(personas.representative).get(url("detail", code=grievance.code)).status_code == 404
    assert client_for(personas.steward).get(url("detail", code=grievance.code)).status_code == 200
    assert client_for(personas.local_admin).get(url("detail", code=grievance.code)).status_code == 200
    assert number(grievance) not in client_for(personas.organizer).get(url("case_list")).content.decode()


# Canary: what people type never lands in clear --------------------------------------------------------

CANARY_NARRATIVE = "Zqxvkrd narrative canary 7781"
CANARY_REMEDY = "Zqxvkrd remedy canary 5523"
CANARY_NOTE = "Zqxvkrd internal note canary 3391"
CANARY_SHARED = "Zqxvkrd shared note canary 1208"
CANARY_FIX = "Zqxvkrd correction canary 6640"
CANARY_TITLE = "Zqxvkrd title canary 4410"


def _clear_text_hits(needles: list[str]) -> list[str]:
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("latin-1")
                    hits += [f"{table}: {n}" for n in needles if n in str(value)]
    return hits


def test_narratives_and_notes_never_appear_in_clear(personas: Personas) -> None:
    member = client_for(personas.member)
    member.post(url("case_new"), intake(personas, narrative=CANARY_NARRATIVE, remedy=CANARY_REMEDY,
                                        title=CANARY_TITLE))
    grievance = Grievance.objects.get()
    member.post(url("case_submit", code=grievance.code))
    admin = client_for(personas.local_admin)
    admin.post(url("case_event_add", code=grievance.code), {"kind": "note", "body": CANARY_NOTE})
    admin.post(url("case_event_add", code=grievance.code), {"kind": "shared_note", "body": CANARY_SHARED})
    note = Event.objects.get(kind=Event.Kind.NOTE)
    admin.post(url("case_event_correct", code=grievance.code, event=note.code), {"body": CANARY_FIX})
    needles = [CANARY_NARRATIVE, CANARY_REMEDY, CANARY_NOTE, CANARY_SHARED, CANARY_FIX, CANARY_TITLE, "Zqxvkrd"]
    # They were stored, and read back through the application...
    page = admin.get(url("detail", code=grievance.code)).content.decode()
    assert all(n in page for n in needles)
    assert Member.objects.filter(user=personas.member).exists()
    # ...but neither a dump nor a raw scan of every table finds them.
    out = StringIO()
    call_command("dumpdata", stdout=out)
    assert not [n for n in needles if n in out.getvalue()]
    assert _clear_text_hits(needles) == []


def test_the_case_page_links_to_the_work_pages(client: Client, personas: Personas) -> None:
    from tests.base import login_as
    from tests.grievances.factories import make_case

    case = make_case(personas)
    officer = login_as(client, personas.steward).get(f"/grievances/{case.code}/").content.decode()
    assert f"/grievances/{case.code}/work/" in officer and f"/grievances/{case.code}/letters/" in officer
    grievant = login_as(Client(), personas.member).get(f"/grievances/{case.code}/").content.decode()
    assert f"/grievances/{case.code}/letters/" not in grievant and f"/grievances/{case.code}/work/" not in grievant
    assert f"/grievances/{case.code}/evidence/" in grievant


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["pending", "active", "suspended", "resigned", "rejected"])
def test_the_own_cases_page_offers_filing_only_to_who_may_file(personas: Personas, status: str) -> None:
    # "Report a problem at work" was on every list page, and answered 404 for an applicant, a
    # suspended, resigned or rejected member (filing is a member's right, membership/roles.py).
    Member.objects.filter(user=personas.member).update(status=status)
    client = login_as(Client(), personas.member)
    page = client.get(reverse("grievances:case_own")).content.decode()
    offered = f'href="{reverse("grievances:case_new")}"' in page
    assert offered is (status == "active")
    assert (client.get(reverse("grievances:case_new")).status_code == 200) is offered
