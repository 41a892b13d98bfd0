"""Query shapes at scale: row-value keyset pages, narrow filters on indexes, a dashboard scoped to its local.

Timings belong to bench/roll.py; these tests pin what makes the timings hold: the SQL that is sent,
the number of queries, and on PostgreSQL that the planner can answer from the indexes at all
(EXPLAIN with sequential scans disabled names the index, and the row comparison as its condition).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from membership import charts, roll
from membership.models import CardText, Local, Member, SupportAssessment, SupportLevel, UnionCard
from membership.tally import tally_rebuild
from tests.base import Personas, login_as
from tests.factories import make_unit
from tests.services import need

pytestmark = pytest.mark.django_db


def add_members(p: Personas, n: int, *, local: Local | None = None, prefix: str = "m", **fields: Any) -> list[Member]:
    local = local or p.local
    members = [Member(union=p.local.union, local=local, pseudonym=f"{prefix}{i:05d}", **fields) for i in range(n)]
    return Member.objects.bulk_create(members)


def roll_url(p: Personas) -> str:
    return reverse("membership:roll_list", kwargs={"local_code": p.local.code})


def page_query(ctx: CaptureQueriesContext) -> str:
    (sql,) = [q["sql"] for q in ctx.captured_queries if 'FROM "membership_member"' in q["sql"] and "LIMIT 51" in q["sql"]]
    return sql


class TestKeysetPages:
    @pytest.mark.parametrize("direction", ["after", "before"])
    def test_a_page_seeks_with_one_row_value_comparison(self, personas: Personas, direction: str) -> None:
        add_members(personas, 120)
        middle = Member.objects.get(pseudonym="m00060")
        client = login_as(Client(), personas.steward)
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(roll_url(personas), {direction: roll.encode_cursor(middle)}).context["page"]
        sql = page_query(ctx)
        op = ">" if direction == "after" else "<"
        assert f'("membership_member"."pseudonym", "membership_member"."id") {op} (' in sql
        assert " OR " not in sql.split("WHERE", 1)[1], "an OR of comparisons cannot seek an index"
        names = [m.pseudonym for m in page.members]
        assert names == ([f"m{i:05d}" for i in range(61, 111)] if direction == "after"
                         else [f"m{i:05d}" for i in range(10, 60)])

    def test_queries_do_not_grow_with_depth_or_direction(self, personas: Personas) -> None:
        add_members(personas, 300)
        client = login_as(Client(), personas.steward)
        counts = []
        for row in (0, 150, 290):
            cursor = roll.encode_cursor(Member.objects.order_by("pseudonym", "id").filter(local=personas.local)[row])
            for direction in ("after", "before"):
                with CaptureQueriesContext(connection) as ctx:
                    assert client.get(roll_url(personas), {direction: cursor}).status_code == 200
                counts.append(len(ctx.captured_queries))
        assert len(set(counts)) == 1, counts

    def test_on_postgresql_the_cursor_is_an_index_condition(self, personas: Personas) -> None:
        need(connection.vendor == "postgresql", "PostgreSQL only: DATABASE_URL is not a PostgreSQL database")
        add_members(personas, 3000)
        analyze()
        qs = roll.roll_queryset(personas.local, {})
        for lookup, order in ((roll.RowAfter, ("pseudonym", "id")), (roll.RowBefore, ("-pseudonym", "-id"))):
            page = qs.filter(lookup(roll.roll_key(), ("m00100", 1))).order_by(*order)[:51]
            plan = explain_without_seqscan(page)
            assert "member_roll_order" in plan
            assert re.search(r"Index Cond: .*ROW\(\(?pseudonym\)?(::text)?, id\) [<>] ROW\(", plan), plan


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE membership_member")


def explain_without_seqscan(qs: object) -> str:
    """The plan PostgreSQL picks when it may not read the table from end to end: proof an index applies."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = qs.explain()  # type: ignore[attr-defined]
        cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


class TestNarrowFilters:
    def test_status_and_unit_filters_have_a_matching_index(self) -> None:
        names = {index.name: index.fields for index in Member._meta.indexes}
        assert names["member_roll_status"] == ["local", "status", "pseudonym", "id"]
        assert names["member_roll_unit"] == ["local", "unit", "pseudonym", "id"]

    @pytest.mark.parametrize(("where", "index"), [
        (lambda: roll.search_q("m0012"), "member_pseudonym_trgm"),
        (lambda: Q(languages__contains=",mg,"), "member_languages_trgm"),
    ])
    def test_on_postgresql_substring_filters_match_a_trigram_index(self, personas: Personas, where: Any,
                                                                   index: str) -> None:
        # The index must be built on the very expression Django writes (UPPER(pseudonym::text) LIKE ...),
        # or PostgreSQL can never use it: with the table scan disabled, the plan names it.
        need(connection.vendor == "postgresql", "PostgreSQL only: DATABASE_URL is not a PostgreSQL database")
        members = add_members(personas, 3000, languages=",en,")
        Member.objects.filter(pk__in=[m.pk for m in members[::500]]).update(languages=",mg,")
        analyze()
        plan = explain_without_seqscan(Member.objects.filter(where()))
        assert f"Bitmap Index Scan on {index}" in plan, plan

    def test_on_postgresql_a_rare_status_is_found_through_an_index(self, personas: Personas) -> None:
        need(connection.vendor == "postgresql", "PostgreSQL only: DATABASE_URL is not a PostgreSQL database")
        members = add_members(personas, 3000, status=Member.Status.ACTIVE)
        Member.objects.filter(pk__in=[m.pk for m in members[::500]]).update(status=Member.Status.LAPSED)
        analyze()
        plan = explain_without_seqscan(roll.roll_queryset(personas.local, {"status": "lapsed"})[:51])
        assert re.search(r"Index Cond: .*status\)::text = 'lapsed'", plan), plan


class TestDashboardScope:
    def seed_cards(self, p: Personas, members: list[Member]) -> None:
        text = CardText.objects.create(union=p.local.union, version=1, language="en", title="Card", body="I join.")
        UnionCard.objects.bulk_create([UnionCard(member=m, card_text=text, signed={}) for m in members])
        tally_rebuild()  # bulk_create passes the services that keep the dashboard's tallies

    def test_every_member_query_is_filtered_by_the_local_and_counts_without_distinct(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        ours = add_members(personas, 30, unit=unit, status=Member.Status.ACTIVE)
        theirs = add_members(personas, 40, local=personas.other_local, prefix="o", unit=make_unit(personas.other_local),
                             status=Member.Status.ACTIVE)
        self.seed_cards(personas, ours[:12] + theirs)
        url = reverse("membership:dash_local", kwargs={"code": personas.local.code})
        with CaptureQueriesContext(connection) as ctx:
            response = login_as(Client(), personas.organizer).get(url)
        assert response.status_code == 200
        progress = {p.unit.pk: p.signed for p in response.context["progress"]}
        assert progress[unit.pk] == 12
        # The dashboard's figures come from the tallies (membership/tally.py), read for this local
        # only: its units' rows, its signature periods, its support levels. Nothing counts
        # members or cards at page time, so the cost follows the local, not the union.
        assert not [q for q in ctx.captured_queries if "COUNT(DISTINCT" in q["sql"].upper()]
        tallies = [q["sql"] for q in ctx.captured_queries
                   if re.search(r'"membership_(unittally|signaturetally|supporttally)"', q["sql"])]
        assert len(tallies) >= 3, tallies  # cards per unit, cards per week, support summary
        for sql in tallies:
            assert re.search(rf'"local_id" = {personas.local.pk}\b', sql), sql
        assert not [q["sql"] for q in ctx.captured_queries if "GROUP BY" in q["sql"]
                    and re.search(r'FROM "membership_(member|unioncard|supportassessment)"', q["sql"])]

    def test_the_figures_stay_right(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        members = add_members(personas, 6, unit=unit, status=Member.Status.ACTIVE)
        text = CardText.objects.create(union=personas.local.union, version=1, language="en", title="C", body="b")
        now = timezone.now()
        UnionCard.objects.create(member=members[0], card_text=text, signed={})
        UnionCard.objects.create(member=members[0], card_text=text, signed={}, signed_at=now - timedelta(days=8))
        UnionCard.objects.create(member=members[1], card_text=text, signed={}, revoked_at=now)
        UnionCard.objects.create(member=members[2], card_text=text, signed={})
        Member.objects.filter(pk=members[2].pk).update(status=Member.Status.RESIGNED)
        tally_rebuild()  # the writes above pass the services; the recount must agree with the rule
        (p,) = [p for p in charts.unit_progress(personas.local) if p.unit == unit]
        assert p.signed == 1  # twice signed counts once; revoked and resigned do not count
        level = SupportLevel.objects.create(union=personas.local.union, value=2, label="Supporter")
        other = SupportLevel.objects.create(union=personas.local.union, value=4, label="Opposed")
        SupportAssessment.objects.create(member=members[3], level=other, recorded_at=now - timedelta(days=2))
        SupportAssessment.objects.create(member=members[3], level=level, recorded_at=now)
        SupportAssessment.objects.create(member=members[4], level=other, recorded_at=now)
        tally_rebuild()
        assert charts.support_summary(personas.local) == {2: 1, 4: 1}
