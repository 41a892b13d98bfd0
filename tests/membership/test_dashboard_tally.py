"""The organizing dashboard's per-unit tallies never drift from a recount of the rows.

The dashboard reads the signed-card figure of each unit from `UnitTally` (kept by the services in
the same transaction as each change) instead of counting cards. A random sequence of every
operation that changes what is counted (sign, revoke, status changes, verify, reject, unit change,
import, resign, erase) must leave the dashboard figures equal to a recount after every step; on
PostgreSQL, simultaneous changes must too.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from membership import charts
from membership.lifecycle import TRANSITIONS
from membership.models import CardText, Member, SupportLevel, UnionCard, UnitTally
from membership.roll import parse_csv
from membership.self_service import member_erase, member_resign
from membership.services import (
    MembershipError,
    card_revoke,
    card_sign,
    member_change_unit,
    member_reject,
    member_set_status,
    member_verify,
    roll_import,
)
from membership.support import support_assess, support_levels_seed_defaults
from membership.tally import recount, signatures_check, support_check, support_recount, tally_check, tally_rebuild
from tests.base import Personas
from tests.factories import make_member, make_unit
from tests.services import need

S = Member.Status


def card_text(union) -> CardText:  # type: ignore[no-untyped-def]
    return CardText.objects.get_or_create(union=union, version=1, language="en",
                                          defaults={"title": "Card", "body": "I join."})[0]


def dashboard_figures(local) -> dict[int, int]:  # type: ignore[no-untyped-def]
    return {p.unit.pk: p.signed for p in charts.unit_progress(local) if p.signed}


def assert_no_drift(*locals_) -> None:  # type: ignore[no-untyped-def]
    for local in locals_:
        assert dashboard_figures(local) == recount(local)
    assert tally_check() == {}
    assert signatures_check() == {}
    assert support_check() == {}
    for local in locals_:
        levels = dict(SupportLevel.objects.filter(union_id=local.union_id).values_list("pk", "value"))
        assert charts.support_summary(local) == {levels[level]: n for (_l, level), n in support_recount(local).items()}
        weekly = sum(w.count for w in charts.weekly_signatures(local))
        assert weekly == UnionCard.objects.filter(member__local=local, revoked_at__isnull=True).count()


class Scenario:
    """Random operations on a small local through the services, as the views call them."""

    def __init__(self, personas: Personas, rng: random.Random) -> None:
        self.p, self.rng, self.local = personas, rng, personas.local
        self.units = [make_unit(self.local) for _ in range(3)]
        self.text = card_text(self.local.union)
        support_levels_seed_defaults(actor=None, union=self.local.union)
        self.levels = list(SupportLevel.objects.filter(union=self.local.union))
        self.imported = 0
        self.do_import(6)
        for _i in range(2):  # members with accounts: status changes also rewrite their rights
            user = make_member(self.local)
            member_change_unit(actor=personas.organizer, member=user.member, unit=self.units[0])

    def members(self) -> list[Member]:
        return list(Member.objects.filter(local=self.local, erased_at__isnull=True).order_by("pk"))

    def any_member(self) -> Member | None:
        members = self.members()
        return self.rng.choice(members) if members else None

    def do_import(self, rows: int) -> None:
        lines = ["pseudonym,unit,status"]
        for _i in range(rows):
            self.imported += 1
            unit = self.rng.choice([*self.units, None])
            lines.append(f"imported {self.imported},{unit or ''},{self.rng.choice(['active', 'pending', 'lapsed'])}")
        preview = parse_csv("\n".join(lines) + "\n", self.local)
        roll_import(actor=self.p.organizer, local=self.local, rows=preview.rows, valid_only=True)

    def step(self) -> str:
        op = self.rng.choice(["sign", "sign", "sign", "revoke", "status", "verify", "reject", "unit", "import",
                              "resign", "erase", "assess", "assess"])
        member = self.any_member()
        if member is None:
            self.do_import(2)
            return "import"
        try:
            if op == "sign":
                card_sign(member=member, card_text=self.text, signature_name="x", consents={},
                          advance_status=self.rng.random() < 0.7)
            elif op == "revoke":
                cards = list(UnionCard.objects.filter(member__local=self.local, member__erased_at__isnull=True,
                                                      revoked_at__isnull=True))
                if cards:
                    card_revoke(actor=None, card=self.rng.choice(cards))
            elif op == "status":
                new = self.rng.choice(sorted(TRANSITIONS[member.status]))
                member_set_status(actor=self.p.organizer, member=member, new=new, reason="organizing")
            elif op == "verify":
                member_verify(actor=self.p.organizer, member=member)
            elif op == "reject":
                member_reject(actor=self.p.organizer, member=member, reason="not in the unit")
            elif op == "unit":
                member_change_unit(actor=self.p.organizer, member=member, unit=self.rng.choice([*self.units, None]))
            elif op == "import":
                self.do_import(self.rng.randint(1, 3))
            elif op == "resign":
                member_resign(actor=self.p.organizer, member=member)
            elif op == "erase":
                member_erase(actor=None, member=member)
            elif op == "assess":
                support_assess(actor=self.p.organizer, member=member, level=self.rng.choice(self.levels))
        except MembershipError:
            pass  # a transition the lifecycle refuses: nothing changed, and the tally must agree
        return op


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_operations_never_drift(personas: Personas, seed: int) -> None:
    scenario = Scenario(personas, random.Random(seed))
    other_unit = make_unit(personas.other_local)
    done: set[str] = set()
    most = 0
    for _i in range(120):
        done.add(scenario.step())
        assert_no_drift(personas.local, personas.other_local)
        most = max(most, sum(recount(personas.local).values()))
    assert most >= 3, "the sequence should have had signed cards to count"
    assert not UnitTally.objects.filter(unit=other_unit).exclude(signed=0).exists()
    assert done >= {"sign", "revoke", "status", "verify", "reject", "unit", "import", "resign", "erase", "assess"}


@pytest.mark.django_db
def test_the_dashboard_page_shows_the_tally(personas: Personas) -> None:
    from django.test import Client
    from django.urls import reverse

    from tests.base import login_as

    unit = make_unit(personas.local, project="Queue Tally")
    text = card_text(personas.local.union)
    for _i in range(3):
        user = make_member(personas.local)
        member = user.member
        member_change_unit(actor=personas.organizer, member=member, unit=unit)
        card_sign(member=member, card_text=text, signature_name="x", consents={})
    client = login_as(Client(), personas.organizer)
    response = client.get(reverse("membership:dash_local", kwargs={"code": personas.local.code}))
    assert response.status_code == 200
    html = response.content.decode()
    progress = {p.unit.pk: p for p in charts.unit_progress(personas.local)}
    assert progress[unit.pk].signed == 3 == recount(personas.local)[unit.pk]
    assert "Queue Tally" in html


@pytest.mark.django_db
def test_check_reports_drift_and_rebuild_repairs_it(personas: Personas) -> None:
    unit = make_unit(personas.local)
    user = make_member(personas.local)
    member = user.member
    member_change_unit(actor=personas.organizer, member=member, unit=unit)
    card = card_sign(member=member, card_text=card_text(personas.local.union), signature_name="x", consents={})
    call_command("dashboard_tally", "--check", stdout=StringIO())
    # A write past the services (raw SQL, the admin): the tally no longer matches the rows.
    UnionCard.objects.filter(pk=card.pk).update(revoked_at=card.signed_at)
    assert tally_check() == {unit.pk: (1, 0)}
    err = StringIO()
    with pytest.raises(CommandError, match=r"1 unit tally\(ies\), 1 signature period\(s\) and 0 support"):
        call_command("dashboard_tally", "--check", stdout=StringIO(), stderr=err)
    assert f"unit {unit.pk}: tally 1, recount 0" in err.getvalue()
    assert member.pseudonym not in err.getvalue()
    out = StringIO()
    call_command("dashboard_tally", "--rebuild", stdout=out)
    assert "2 tally row(s) corrected" in out.getvalue()  # the unit and the period of the card
    call_command("dashboard_tally", "--check", stdout=StringIO())
    assert dashboard_figures(personas.local) == {}


@pytest.mark.django_db
def test_expired_sign_ups_leave_the_weekly_tally(personas: Personas) -> None:
    from django.utils import timezone

    from membership.services import join_cleanup
    from tests.factories import make_user

    user = make_user(is_active=False)
    user.confirm_by = timezone.now() - timedelta(hours=1)
    user.save(update_fields=["confirm_by"])
    member = Member.objects.create(user=user, union=personas.local.union, local=personas.local,
                                   pseudonym="never confirmed", status=S.APPLICANT)
    card_sign(member=member, card_text=card_text(personas.local.union), signature_name="x", consents={},
              advance_status=False)
    support_levels_seed_defaults(actor=None, union=personas.local.union)
    support_assess(actor=personas.organizer, member=member, level=SupportLevel.objects.get(
        union=personas.local.union, value=4))
    assert sum(w.count for w in charts.weekly_signatures(personas.local)) == 1
    assert charts.support_summary(personas.local) == {4: 1}
    assert join_cleanup() == 1
    assert sum(w.count for w in charts.weekly_signatures(personas.local)) == 0
    assert charts.support_summary(personas.local) == {}
    assert signatures_check() == {} and tally_check() == {} and support_check() == {}


@pytest.mark.django_db
def test_the_weekly_chart_follows_the_viewer_time_zone(personas: Personas) -> None:
    """Quarter-hour periods: a week starting at midnight in Kolkata (UTC+5:30) splits them exactly."""
    import zoneinfo

    from django.utils import timezone

    zone = zoneinfo.ZoneInfo("Asia/Kolkata")
    now = datetime(2026, 3, 11, 12, 0, tzinfo=zone)  # a Wednesday
    monday = datetime(2026, 3, 9, 0, 0, tzinfo=zone)
    member = Member.objects.create(union=personas.local.union, local=personas.local, pseudonym="tz", status=S.ACTIVE)
    text = card_text(personas.local.union)
    for at in (monday - timedelta(minutes=1), monday, monday + timedelta(minutes=14)):
        card = card_sign(member=member, card_text=text, signature_name="x", consents={})
        UnionCard.objects.filter(pk=card.pk).update(signed_at=at)
    tally_rebuild()
    with timezone.override(zone):
        weeks = charts.weekly_signatures(personas.local, now=now)
    assert [w.count for w in weeks[-2:]] == [1, 2]


@pytest.mark.django_db
def test_the_command_needs_one_mode(db: None) -> None:
    with pytest.raises(CommandError):
        call_command("dashboard_tally", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_rebuild_counts_bulk_created_rows(personas: Personas) -> None:
    unit = make_unit(personas.local)
    text = card_text(personas.local.union)
    members = Member.objects.bulk_create([
        Member(union=personas.local.union, local=personas.local, unit=unit, pseudonym=f"bulk {i}", status=S.ACTIVE)
        for i in range(5)])
    at = datetime(2026, 3, 9, 10, 5, tzinfo=UTC)  # one period for all five
    UnionCard.objects.bulk_create([UnionCard(member=m, card_text=text, signed={"x": 1}, signed_at=at) for m in members])
    assert tally_check() == {unit.pk: (0, 5)}
    assert tally_rebuild() == 2  # the unit, and the period the five cards were signed in
    assert dashboard_figures(personas.local) == {unit.pk: 5}


# ---------------------------------------------------------------------------------------------
# Simultaneous changes on PostgreSQL: real row locks, real commits, one connection per thread.
# ---------------------------------------------------------------------------------------------

def run_together(jobs: Sequence[Callable[[], object]]) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def one(job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            job()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_simultaneous_changes_keep_the_tally(personas: Personas) -> None:
    need(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL: no real row locking to race")
    unit, other = make_unit(personas.local), make_unit(personas.local)
    text = card_text(personas.local.union)
    members = []
    for _i in range(6):
        member = make_member(personas.local).member
        member_change_unit(actor=personas.organizer, member=member, unit=unit)
        members.append(member)
    twice = members[0]  # signs twice at once: counted once
    revoked = card_sign(member=members[1], card_text=text, signature_name="x", consents={})
    jobs = [
        lambda: card_sign(member=twice, card_text=text, signature_name="x", consents={}),
        lambda: card_sign(member=twice, card_text=text, signature_name="x", consents={}),
        lambda: card_revoke(actor=None, card=revoked),
        lambda: card_sign(member=members[2], card_text=text, signature_name="x", consents={}),
        lambda: card_sign(member=members[3], card_text=text, signature_name="x", consents={}),
        lambda: member_change_unit(actor=personas.organizer, member=members[3], unit=other),
        lambda: card_sign(member=members[4], card_text=text, signature_name="x", consents={}),
        lambda: member_resign(actor=personas.organizer, member=members[4]),
    ]
    assert run_together(jobs) == []
    assert recount(personas.local).get(unit.pk, 0) + recount(personas.local).get(other.pk, 0) == 3
    assert_no_drift(personas.local)
