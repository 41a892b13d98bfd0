"""Erasure leaves no handle, pseudonym, email, phone or name anywhere in the database.

A steward with assignments, status changes (with reasons), organizers' notes, case notes, a
support assessment and failed logins erases their account; then the whole database is copied as
an attacker would (a file copy of SQLite, pg_dump of PostgreSQL) and dumped with dumpdata, and
every identifying string is searched for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from grievances.services import event_add, grievance_assign
from membership.models import Member, MemberStatusChange, User
from membership.services import member_set_notes, member_set_status, role_grant
from membership.support import support_assess, support_levels_seed_defaults
from tests.base import build_personas, login_as
from tests.factories import PASSWORD, make_member, make_totp
from tests.grievances.factories import make_case
from tests.services import need

HANDLE = "wanjiku.steward"
PSEUDONYM = "Wanjiku Night Queue"
EMAIL = "wanjiku.k@example.org"
PHONE = "+254711222333"
NAME = "Wanjiku Kamau"


def database_copy(tmp_path: Path) -> bytes:
    """Every table, as bytes: what a seized disk or a stolen backup would hold."""
    if connection.vendor == "sqlite":
        copy = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(copy)])
        return copy.read_bytes()
    need(shutil.which("pg_dump") is not None, "pg_dump not installed")
    params = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": params.get("PASSWORD") or ""}
    return subprocess.run(
        ["pg_dump", "-h", params["HOST"] or "127.0.0.1", "-p", str(params["PORT"] or 5432),
         "-U", params["USER"] or "postgres", params["NAME"]],
        check=True, capture_output=True, env=env, timeout=120,
    ).stdout


def everything(tmp_path: Path) -> bytes:
    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    return (database_copy(tmp_path) + dump.getvalue().encode()).lower()


def traces(data: bytes) -> list[str]:
    needles = [HANDLE, PSEUDONYM, EMAIL, PHONE, PHONE.lstrip("+"), NAME, "wanjiku"]
    return [needle for needle in needles if needle.lower().encode() in data]


@pytest.mark.django_db(transaction=True)
def test_an_erased_steward_leaves_no_trace_in_the_database(tmp_path: Path) -> None:
    p = build_personas()
    steward = make_member(p.local, "steward", handle=HANDLE, email=EMAIL)
    make_totp(steward)
    member = Member.objects.get(user=steward)
    member.pseudonym, member.legal_name = PSEUDONYM, NAME
    member.set_phone(PHONE)
    member.set_email(EMAIL)
    member.save()

    # A working life in the union: cases assigned and worked, status changes with reasons that
    # name the person, organizers' notes, an assessment, failed logins by handle and by email.
    for _ in range(2):
        case = make_case(p)
        grievance_assign(actor=p.local_admin, grievance=case, steward=steward)
        event_add(actor=steward, grievance=case, kind="note", body=f"Called the grievant ({HANDLE} on shift).")
    member_set_status(actor=p.organizer, member=member, new="suspended", reason=f"{NAME} asked for a pause")
    member_set_status(actor=p.organizer, member=member, new="active", reason=f"{PSEUDONYM} is back")
    role_grant(actor=p.local_admin, user=steward, local=p.local, role="steward")
    member_set_notes(actor=p.organizer, member=member, notes=f"{NAME}, {PHONE}, evenings")
    support_levels_seed_defaults(actor=p.organizer, union=p.local.union)
    level = p.local.union.support_levels.first()
    assert level is not None
    support_assess(actor=p.organizer, member=member, level=level)
    for typed in (HANDLE, EMAIL):
        Client().post(reverse("account:login"), {"username": typed, "password": "not the password"})
    page = login_as(Client(), p.local_admin).get(reverse("grievances:detail", kwargs={"code": case.code}))
    assert PSEUDONYM in page.content.decode()  # the timeline resolves the assignment to the pseudonym

    before = everything(tmp_path)
    assert HANDLE.encode() in before and PSEUDONYM.lower().encode() in before  # the copy sees the rows

    response = login_as(Client(), steward).post(reverse("membership:me_erase"), {"confirm": "on", "password": PASSWORD})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.erased_at is not None

    assert traces(everything(tmp_path)) == []
    # The bare history stays: the moves, the assignments (by account id), the audit chain.
    assert MemberStatusChange.objects.filter(member=member, reason__isnull=True).count() >= 3
    assert not MemberStatusChange.objects.filter(member=member, reason__isnull=False).exists()
    erased = User.objects.get(pk=steward.pk)
    assert erased.handle.startswith("erased-") and not erased.is_active
    page = login_as(Client(), p.local_admin).get(reverse("grievances:detail", kwargs={"code": case.code}))
    assert "erased member" in page.content.decode()
