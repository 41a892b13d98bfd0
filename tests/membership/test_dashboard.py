"""The organizing dashboard: cards against thresholds, signatures per week, the support scale."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from membership import charts
from membership.models import BargainingUnit, CardText, Local, Member, SupportAssessment, SupportLevel, Union, UnionCard
from membership.self_service import member_erase
from membership.services import card_revoke, card_sign
from membership.support import (
    DEFAULT_LEVELS,
    SupportError,
    level_in_use_message,
    support_assess,
    support_level_delete,
    support_levels_seed_defaults,
)
from membership.tally import tally_rebuild
from tests.base import Personas, login_as
from tests.factories import make_union, make_unit
from union.models import AuditEvent

pytestmark = pytest.mark.django_db
S = Member.Status


def card_text(union: Union) -> CardText:
    return CardText.objects.get_or_create(union=union, version=1, language="en",
                                          defaults={"title": "Card", "body": "I join."})[0]


def contact(local: Local, unit: BargainingUnit | None, status: str = S.ACTIVE, *, cards: int = 1, revoked: bool = False,
            signed_at: datetime | None = None) -> Member:
    n = Member.objects.count()
    member = Member.objects.create(union=local.union, local=local, unit=unit, pseudonym=f"contact {n}", status=status)
    # Through the services, which keep the dashboard's unit tallies (membership/tally.py).
    for _i in range(cards):
        card = card_sign(member=member, card_text=card_text(local.union), signature_name="x", consents={},
                         advance_status=False)
        if signed_at is not None:  # back-dated past the services: recount the tallies, as seed_demo does
            UnionCard.objects.filter(pk=card.pk).update(signed_at=signed_at)
            tally_rebuild()
        if revoked:
            card_revoke(actor=None, card=card)
    return member


def dashboard_url(p: Personas) -> str:
    return reverse("membership:dash_local", kwargs={"code": p.local.code})


def support_url(p: Personas) -> str:
    return reverse("membership:dash_support", kwargs={"code": p.local.code})


def assess_url(p: Personas, member: Member) -> str:
    return reverse("membership:dash_assess", kwargs={"code": p.local.code, "member_code": member.code})


class TestThresholds:
    @pytest.mark.parametrize(("headcount", "percent", "needed"), [
        (10, 50, 6), (11, 50, 6), (240, 50, 121), (0, 50, 1), (1, 50, 1),
        (100, 30, 30), (7, 30, 3), (80, 60, 48), (5, 100, 5), (10, None, None),
    ])
    def test_it_computes_cards_needed(self, headcount: int, percent: int | None, needed: int | None) -> None:
        assert charts.cards_needed(headcount, percent) == needed


class TestUnitProgress:
    def test_it_counts_members_with_a_valid_card_once(self, personas: Personas) -> None:
        unit = make_unit(personas.local, headcount=10, milestone_percent=30)
        other = make_unit(personas.local, headcount=4)
        contact(personas.local, unit)                       # counts
        contact(personas.local, unit, S.PENDING)            # counts: waiting for verification
        contact(personas.local, unit, cards=2)              # counts once
        contact(personas.local, unit, revoked=True)         # revoked card
        contact(personas.local, unit, S.RESIGNED)           # resigned
        contact(personas.local, unit, S.APPLICANT)          # not yet confirmed
        contact(personas.local, unit, cards=0)              # no card
        erased = contact(personas.local, unit)
        member_erase(actor=None, member=erased)
        contact(personas.local, other)
        contact(personas.other_local, make_unit(personas.other_local))
        by_unit = {p.unit.pk: p for p in charts.unit_progress(personas.local)}
        assert (by_unit[unit.pk].signed, by_unit[unit.pk].needed, by_unit[unit.pk].milestone) == (3, 6, 3)
        assert (by_unit[other.pk].signed, by_unit[other.pk].needed) == (1, 3)
        assert len(by_unit) == 2

    def test_it_sorts_units_closest_to_threshold_first(self, personas: Personas) -> None:
        far = make_unit(personas.local, headcount=100)      # needs 51
        near = make_unit(personas.local, headcount=6)       # needs 4, has 3
        done = make_unit(personas.local, headcount=2)       # needs 2, has 2
        for _i in range(3):
            contact(personas.local, near)
        for _i in range(2):
            contact(personas.local, done)
        order = [p.unit.pk for p in charts.closest_to_threshold(charts.unit_progress(personas.local))]
        assert order == [near.pk, far.pk, done.pk]

    def test_it_counts_signatures_per_week(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        now = timezone.now()
        contact(personas.local, unit, signed_at=now)
        contact(personas.local, unit, signed_at=now)
        contact(personas.local, unit, signed_at=now - timedelta(weeks=1))
        contact(personas.local, unit, signed_at=now - timedelta(weeks=1), revoked=True)
        contact(personas.local, unit, signed_at=now - timedelta(weeks=20))
        contact(personas.other_local, None, signed_at=now)
        weeks = charts.weekly_signatures(personas.local, now=now)
        assert len(weeks) == charts.WEEKS
        assert [w.count for w in weeks[-2:]] == [1, 2]
        assert sum(w.count for w in weeks) == 3


class TestDashboardPage:
    def test_it_shows_chart_and_table_with_the_same_numbers(self, personas: Personas) -> None:
        unit = make_unit(personas.local, headcount=10, project="Tagalog queue")
        for _i in range(4):
            contact(personas.local, unit)
        response = login_as(Client(), personas.steward).get(dashboard_url(personas))
        html = response.content.decode()
        assert response.status_code == 200
        assert "<svg" in html and "css/dashboard.css" in html
        svg = html[html.index("<svg"):html.rindex("</svg>")]
        assert "style=" not in svg, "inline style attributes break the CSP"
        assert "Tagalog queue" in html
        assert '<td class="num">4 <span class="muted">(40%)</span></td>' in html
        assert '<td class="num">6 <span class="muted">(50% + 1)</span></td>' in html
        assert "2 more cards needed" in html
        assert response["Cache-Control"].startswith("max-age=0")

    def test_it_escapes_unit_names_in_the_svg(self, personas: Personas) -> None:
        make_unit(personas.local, project="<script>x</script>")
        html = login_as(Client(), personas.organizer).get(dashboard_url(personas)).content.decode()
        assert "<script>x</script>" not in html
        assert "&lt;script&gt;" in html

    def test_it_uses_a_fixed_number_of_queries(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        units = [make_unit(personas.local) for _i in range(3)]
        client = login_as(Client(), personas.organizer)

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(dashboard_url(personas)).status_code == 200
            return len(ctx.captured_queries)

        contact(personas.local, units[0])
        few = count()
        level = SupportLevel.objects.get(union=personas.local.union, value=2)
        for i in range(30):
            m = contact(personas.local, units[i % 3], signed_at=timezone.now() - timedelta(weeks=i % 5))
            support_assess(actor=personas.organizer, member=m, level=level)
        assert count() == few

    def test_it_hides_the_dashboard_from_members_and_outsiders(self, personas: Personas) -> None:
        for user in (personas.member, personas.outsider):
            assert login_as(Client(), user).get(dashboard_url(personas)).status_code == 404
        missing = reverse("membership:dash_local", kwargs={"code": "00000000-0000-0000-0000-000000000000"})
        assert login_as(Client(), personas.organizer).get(missing).status_code == 404

    def test_it_refuses_post(self, personas: Personas) -> None:
        assert login_as(Client(), personas.organizer).post(dashboard_url(personas)).status_code == 405

    def test_it_summarises_support_by_latest_assessment(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        levels = {lv.value: lv for lv in SupportLevel.objects.filter(union=personas.local.union)}
        a, b = contact(personas.local, None), contact(personas.local, None)
        support_assess(actor=personas.organizer, member=a, level=levels[3])
        SupportAssessment.objects.filter(member=a).update(recorded_at=timezone.now() - timedelta(days=3))
        support_assess(actor=personas.organizer, member=a, level=levels[1])
        support_assess(actor=personas.organizer, member=b, level=levels[1])
        assert charts.support_summary(personas.local) == {1: 2}


class TestSupportScale:
    def test_it_seeds_default_levels_once(self, db: None) -> None:
        union = make_union()
        assert len(support_levels_seed_defaults(actor=None, union=union)) == len(DEFAULT_LEVELS)
        assert support_levels_seed_defaults(actor=None, union=union) == []
        assert list(SupportLevel.objects.filter(union=union).values_list("value", flat=True)) == [1, 2, 3, 4, 5]
        assert AuditEvent.objects.filter(action="support.levels_seed").count() == 1

    def test_it_refuses_to_delete_a_used_level(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        level = SupportLevel.objects.get(union=personas.local.union, value=4)
        support_assess(actor=personas.organizer, member=contact(personas.local, None), level=level)
        with pytest.raises(SupportError) as err:
            support_level_delete(actor=personas.local_admin, level=level)
        assert str(err.value) == level_in_use_message(1)
        assert "1 assessment," in str(err.value)
        assert SupportLevel.objects.filter(pk=level.pk).exists()
        assert not AuditEvent.objects.filter(action="support.level_delete").exists()

    def test_it_deletes_an_unused_level(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        level = SupportLevel.objects.get(union=personas.local.union, value=5)
        support_level_delete(actor=personas.local_admin, level=level)
        assert not SupportLevel.objects.filter(pk=level.pk).exists()
        assert AuditEvent.objects.get(action="support.level_delete").details == {"value": 5}

    def test_it_refuses_a_level_of_another_union(self, personas: Personas) -> None:
        other = make_union()
        support_levels_seed_defaults(actor=None, union=other)
        with pytest.raises(SupportError):
            support_assess(actor=personas.organizer, member=contact(personas.local, None),
                           level=SupportLevel.objects.get(union=other, value=1))


class TestAssessView:
    @pytest.fixture
    def levels(self, personas: Personas) -> dict[int, SupportLevel]:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        return {lv.value: lv for lv in SupportLevel.objects.filter(union=personas.local.union)}

    def test_it_records_an_assessment(self, personas: Personas, levels: dict[int, SupportLevel]) -> None:
        target = contact(personas.local, None)
        back = support_url(personas) + "?page=1"
        response = login_as(Client(), personas.organizer).post(
            assess_url(personas, target), {"level": levels[2].pk, "back": back})
        assert response.status_code == 302 and response["Location"] == back
        assessment = SupportAssessment.objects.get(member=target)
        assert (assessment.level, assessment.recorded_by) == (levels[2], personas.organizer)
        event = AuditEvent.objects.get(action="support.assess")
        assert (event.target_id, event.details, event.actor_id) == (str(target.code), {"value": 2}, personas.organizer.pk)

    def test_it_ignores_a_back_link_elsewhere(self, personas: Personas, levels: dict[int, SupportLevel]) -> None:
        target = contact(personas.local, None)
        for back in ("https://evil.example/", "//evil.example/", "/me/"):
            response = login_as(Client(), personas.organizer).post(
                assess_url(personas, target), {"level": levels[2].pk, "back": back})
            assert response["Location"] == support_url(personas)

    def test_it_lets_local_admins_record_too(self, personas: Personas, levels: dict[int, SupportLevel]) -> None:
        target = contact(personas.local, None)
        login_as(Client(), personas.local_admin).post(assess_url(personas, target), {"level": levels[1].pk})
        assert SupportAssessment.objects.filter(member=target).count() == 1

    @pytest.mark.parametrize(("who", "status"), [("steward", 403), ("representative", 403), ("member", 404),
                                                   ("outsider", 404)])
    def test_it_refuses_other_roles(self, personas: Personas, levels: dict[int, SupportLevel], who: str,
                                    status: int) -> None:
        target = contact(personas.local, None)
        response = login_as(Client(), personas.get(who)).post(assess_url(personas, target), {"level": levels[1].pk})
        assert response.status_code == status
        assert not SupportAssessment.objects.exists()

    def test_it_hides_members_of_another_local(self, personas: Personas, levels: dict[int, SupportLevel]) -> None:
        stranger = contact(personas.other_local, None)
        response = login_as(Client(), personas.organizer).post(assess_url(personas, stranger), {"level": levels[1].pk})
        assert response.status_code == 404
        assert not SupportAssessment.objects.exists()

    @pytest.mark.parametrize("level", ["", "999999", "abc"])
    def test_it_refuses_bad_input(self, personas: Personas, levels: dict[int, SupportLevel], level: str) -> None:
        target = contact(personas.local, None)
        response = login_as(Client(), personas.organizer).post(assess_url(personas, target), {"level": level})
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()
        assert not SupportAssessment.objects.exists()
        assert not AuditEvent.objects.filter(action="support.assess").exists()

    def test_it_refuses_a_level_of_another_union(self, personas: Personas, levels: dict[int, SupportLevel]) -> None:
        other = make_union()
        support_levels_seed_defaults(actor=None, union=other)
        foreign = SupportLevel.objects.get(union=other, value=1)
        target = contact(personas.local, None)
        response = login_as(Client(), personas.organizer).post(assess_url(personas, target), {"level": foreign.pk})
        assert response.status_code == 400
        assert not SupportAssessment.objects.exists()

    def test_it_refuses_get(self, personas: Personas, levels: dict[int, SupportLevel]) -> None:
        target = contact(personas.local, None)
        assert login_as(Client(), personas.organizer).get(assess_url(personas, target)).status_code == 405


class TestSupportPage:
    def test_it_lists_contacts_with_their_latest_level(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        target = contact(personas.local, None)
        support_assess(actor=personas.organizer, member=target,
                       level=SupportLevel.objects.get(union=personas.local.union, value=2))
        html = login_as(Client(), personas.organizer).get(support_url(personas)).content.decode()
        assert target.pseudonym in html and "2. Supporter" in html
        assert assess_url(personas, target) in html
        assert personas.outsider.member.pseudonym not in html

    def test_it_shows_no_forms_to_those_who_cannot_assess(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        target = contact(personas.local, None)
        html = login_as(Client(), personas.steward).get(support_url(personas)).content.decode()
        assert target.pseudonym in html and assess_url(personas, target) not in html

    def test_it_filters_by_unit(self, personas: Personas) -> None:
        a, b = make_unit(personas.local), make_unit(personas.local)
        in_a, in_b = contact(personas.local, a), contact(personas.local, b)
        client = login_as(Client(), personas.organizer)
        html = client.get(support_url(personas), {"unit": str(a.code)}).content.decode()
        assert in_a.pseudonym in html and in_b.pseudonym not in html
        assert in_a.pseudonym not in client.get(support_url(personas), {"unit": "junk"}).content.decode()

    def test_it_uses_a_fixed_number_of_queries(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        level = SupportLevel.objects.get(union=personas.local.union, value=3)
        unit = make_unit(personas.local)
        client = login_as(Client(), personas.organizer)

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(support_url(personas)).status_code == 200
            return len(ctx.captured_queries)

        contact(personas.local, unit)
        few = count()
        for _i in range(20):
            support_assess(actor=personas.organizer, member=contact(personas.local, unit), level=level)
        assert count() == few


class TestCountryNames:
    """People read country names in their language, never the stored two-letter code."""

    def test_the_dashboard_names_the_country(self, personas: Personas) -> None:
        make_unit(personas.local, project="Swahili queue", country="KE")
        html = login_as(Client(), personas.organizer).get(dashboard_url(personas)).content.decode()
        assert "· Kenya" in html
        assert "· KE" not in html

    def test_the_name_follows_the_language(self, personas: Personas) -> None:
        from django.utils import translation

        unit = make_unit(personas.local, country="CO")
        with translation.override("fr"):
            assert unit.country_name == "Colombie"
            assert str(unit).endswith("Colombie")
        with translation.override("es"):
            assert unit.country_name == "Colombia"

    def test_an_unknown_code_is_shown_as_stored(self, personas: Personas) -> None:
        assert make_unit(personas.local, country="XQ").country_name == "XQ"
