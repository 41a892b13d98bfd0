"""The audit log page speaks words, not codes: actions, targets and details resolved at display."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from grievances.services import grievance_assign
from membership.audit_labels import ACTION_LABELS, action_label, target_label
from membership.models import Local, Member, User
from membership.roles import Role
from membership.self_service import member_erase
from membership.services.accounts import role_grant
from membership.services.members import member_set_status
from tests.base import Personas, login_as
from tests.factories import make_member, make_totp, make_user
from tests.grievances.factories import make_case
from union.audit import audit_record

ROOT = Path(__file__).resolve().parents[2]
URL = reverse("audit_log")
RAW = (b"grievance.assign", b"membership.member", b"grievances.grievance", b"_id:", b"member.status",
       b"steward_id", b"previous_id", b"change:", b"local_id")


def _audit_actions() -> list[tuple[str, int, ast.expr]]:
    """Every action argument of every audit_record(...) call in the application's source."""
    found = []
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & {".venv", "tests", "node_modules", "migrations"}:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "audit_record":
                action = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "action"), None)
                assert action is not None, f"{path}:{node.lineno}: audit_record without an action"
                found.append((str(path.relative_to(ROOT)), node.lineno, action))
    return found


def test_every_recorded_action_has_a_label() -> None:
    calls = _audit_actions()
    assert len(calls) > 40  # the walk found the services, not nothing
    missing = []
    for path, line, action in calls:
        if isinstance(action, ast.Constant) and isinstance(action.value, str):
            if action.value not in ACTION_LABELS:
                missing.append(f"{path}:{line}: {action.value}")
        elif isinstance(action, ast.JoinedStr):
            # f"grievance.{page}_view": at least one label must fit the pattern.
            pattern = "".join(re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[a-z_]+" for v in action.values)
            if not any(re.fullmatch(pattern, code) for code in ACTION_LABELS):
                missing.append(f"{path}:{line}: {ast.unparse(action)}")
        else:
            missing.append(f"{path}:{line}: action is not a literal: {ast.unparse(action)}")
    assert missing == [], "audit actions without a label in membership/audit_labels.py:\n" + "\n".join(missing)


def test_an_unknown_code_falls_back_to_a_generic_label() -> None:
    assert action_label("something.new") == "Other action (something.new)"
    assert target_label("nowhere.nothing") == "record"
    assert target_label("membership.member") == "member"


def _history(p: Personas) -> None:
    """Real services writing the records the reviewer saw raw."""
    case = make_case(p)  # draft, submit, assign (steward_id, previous_id)
    other = make_member(p.local, "steward", handle=f"steward2{p.local.pk}")
    grievance_assign(actor=p.local_admin, grievance=case, steward=other)
    member_set_status(actor=p.organizer, member=Member.objects.get(user=p.member), new="suspended",
                      reason="Works for the vendor's HR")
    role_grant(actor=p.local_admin, user=p.representative, local=p.local, role="organizer")


def _staff() -> User:
    staff = make_user("platformstaff", is_staff=True)
    make_totp(staff)
    return staff


@pytest.mark.parametrize("who", ["local_admin", "staff"])
def test_the_page_shows_no_raw_code(client: Client, personas: Personas, who: str) -> None:
    _history(personas)
    viewer = _staff() if who == "staff" else personas.local_admin
    response = login_as(client, viewer).get(URL)
    assert response.status_code == 200
    body = response.content
    for raw in RAW:
        assert raw not in body, raw
    steward = Member.objects.get(user=personas.steward).pseudonym
    text = body.decode()
    assert "Case assigned to a steward" in text and "Membership status changed" in text
    assert f"Steward: {steward}" in text  # steward_id resolved to today's pseudonym
    assert f"Previous steward: {steward}" in text and "Previous steward: none" in text
    assert "From Active to Suspended" in text
    assert "Role: Organizer" in text
    assert ">case<" in text and ">member<" in text and ">account<" in text
    assert "vendor" not in text  # the reason stays on the status change, not on this page
    assert f">{personas.steward.handle}<" not in text  # pseudonyms, never login names


def test_an_erased_steward_shows_as_erased(client: Client, personas: Personas) -> None:
    _history(personas)
    member = Member.objects.get(user=personas.steward)
    pseudonym = member.pseudonym
    member_erase(actor=personas.local_admin, member=member)
    text = login_as(client, personas.local_admin).get(URL).content.decode()
    assert "Steward: erased member" in text and pseudonym not in text


def test_the_page_reads_in_french(client: Client, personas: Personas) -> None:
    _history(personas)
    login_as(client, personas.local_admin)
    with translation.override("fr"):
        expected = [str(ACTION_LABELS["grievance.assign"]), str(ACTION_LABELS["member.status"]),
                    str(Member.Status.SUSPENDED.label), str(Role.ORGANIZER.label)]
    # Every label must come out in French, not merely be present (the catalog has all of them).
    assert expected[0] != str(ACTION_LABELS["grievance.assign"]), "the action label is not translated"
    assert "Suspended" not in expected[2] and expected[3] != "Organizer"
    response = client.get(URL, headers={"accept-language": "fr"})
    assert response.status_code == 200 and response["Content-Language"] == "fr"
    text = response.content.decode()
    # Compared as the template escapes them (an apostrophe becomes &#x27;).
    assert all(escape(label) in text for label in expected)
    for raw in RAW:
        assert raw not in response.content, raw


def _queries(client: Client, p: Personas, events: int) -> int:
    for n in range(events):
        audit_record(p.local_admin, "grievance.assign", None, local_id=p.local.pk, steward_id=p.steward.pk,
                     previous_id=p.organizer.pk if n % 2 else None)
        audit_record(p.organizer, "member.unit", None, local_id=p.local.pk, previous_unit=None, unit=None)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL).status_code == 200
    return len(ctx.captured_queries)


def test_the_query_count_does_not_grow_with_the_page(client: Client, personas: Personas) -> None:
    login_as(client, personas.local_admin)
    client.get(URL)  # the first request after login does its own once-only work (session, device)
    ten = _queries(client, personas, 5)  # 10 events
    fifty = _queries(client, personas, 20)  # 50 events on the page
    assert ten == fifty, (ten, fifty)


def test_times_are_in_the_viewers_time_zone(client: Client, personas: Personas) -> None:
    Local.objects.filter(pk=personas.local.pk).update(time_zone="Asia/Manila")
    event = audit_record(personas.organizer, "member.view", None, local_id=personas.local.pk)
    text = login_as(client, personas.local_admin).get(URL).content.decode()
    manila = event.created_at.astimezone(ZoneInfo("Asia/Manila"))
    assert f'datetime="{manila.isoformat()}"' in text and "UTC" not in text
