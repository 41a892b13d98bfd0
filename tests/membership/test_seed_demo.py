from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from pytest_django import Settings

from membership.charts import unit_progress
from membership.models import BargainingUnit, Local, Member, RoleGrant, SupportAssessment, Union, UnionCard, User
from membership.selectors import needs_two_factor


@pytest.mark.django_db
class TestSeedDemo:
    def run(self) -> str:
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        return out.getvalue()

    def test_it_creates_one_user_per_persona_and_is_idempotent(self) -> None:
        first = self.run()
        counts = (User.objects.count(), Member.objects.count(), Local.objects.count(), BargainingUnit.objects.count(),
                  UnionCard.objects.count(), SupportAssessment.objects.count())
        self.run()
        # Six accounts; the other members are coworkers from a paper roll, each with a signed card.
        assert counts[:4] == (7, 184, 2, 4) and counts[4] == 184 and counts[5] > 0
        assert (User.objects.count(), Member.objects.count(), Local.objects.count(), BargainingUnit.objects.count(),
                UnionCard.objects.count(), SupportAssessment.objects.count()) == counts
        roles = dict(RoleGrant.objects.values_list("user__handle", "role"))
        assert roles == {"amani": "member", "wanjiru": "steward", "baraka": "organizer", "neema": "representative",
                         "otieno": "local_admin", "maria": "member", "juma": "member"}
        assert RoleGrant.objects.get(user__handle="maria").local.slug == "manila"
        from grievances.models import Grievance

        assert Grievance.objects.count() == 4  # seeded once, not twice
        assert set(Grievance.objects.values_list("status", flat=True)) == {"open", "closed"}
        # Officers' TOTP secrets are printed so a person can enroll an authenticator.
        assert first.count("otpauth://totp/") == 4
        assert all(needs_two_factor(User.objects.get(handle=h)) for h in ("wanjiru", "baraka", "neema", "otieno"))

    def test_the_demo_member_can_log_in(self) -> None:
        self.run()
        client = Client()
        response = client.post("/account/login/", {"username": "amani", "password": "tessera-demo-2026"})
        assert response.status_code == 302 and client.get("/").status_code == 200

    def test_it_refuses_in_production(self, settings: Settings) -> None:
        settings.PRODUCTION = True
        with pytest.raises(CommandError, match="production"):
            self.run()
        assert not User.objects.exists()

    def test_demo_totp_prints_a_code_and_refuses_unknown_users(self) -> None:
        self.run()
        out = io.StringIO()
        call_command("demo_totp", "wanjiru", stdout=out)
        assert out.getvalue()[:6].isdigit()
        with pytest.raises(CommandError):
            call_command("demo_totp", "amani")


@pytest.mark.django_db
class TestSeedDemoShowsTheProduct:
    """`make run` must show a working campaign, not empty dashboards."""

    @pytest.fixture(autouse=True)
    def seeded(self) -> None:
        call_command("seed_demo", stdout=io.StringIO())

    def test_units_sit_at_different_distances_from_their_threshold(self) -> None:
        progress = {p.unit.project: p for p in unit_progress(Local.objects.get(slug="nairobi"))}
        assert len(progress) == 3 and all(p.signed > 0 for p in progress.values())
        assert len({p.remaining for p in progress.values()}) == 3, "every unit at its own distance"
        assert [p.reached for p in progress.values()].count(True) == 1, "one unit past its threshold"
        rlhf = progress["RLHF annotation (remote)"]
        assert rlhf.milestone is not None and rlhf.milestone <= rlhf.signed < rlhf.needed
        manila = unit_progress(Local.objects.get(slug="manila"))
        assert manila[0].signed > 1 and not manila[0].reached

    def test_the_organizing_dashboard_shows_signatures_per_week(self) -> None:
        from tests.base import login_as

        organizer = User.objects.get(handle="baraka")
        client = login_as(Client(), organizer)
        response = client.get(f"/locals/{Local.objects.get(slug='nairobi').code}/dashboard/")
        assert response.status_code == 200
        weekly = [week.count for week in response.context["weeks"]]
        assert sum(weekly) > 20 and sum(1 for n in weekly if n) >= 8, weekly
        assert response.context["support_rows"]

    def test_amani_has_a_signed_card_and_organizers_have_applications_to_verify(self) -> None:
        amani = Member.objects.get(user__handle="amani")
        card = amani.cards.get()
        assert card.revoked_at is None and card.signed["signature"] == "Amani Kariuki"
        client = Client()
        assert amani.user is not None
        client.force_login(amani.user)
        page = client.get(f"/cards/{card.code}/").content.decode()
        assert "Kiswahili" in page and "Amani Kariuki" in page
        assert Member.objects.filter(local__slug="nairobi", status=Member.Status.PENDING).count() >= 3

    def test_the_demo_publishes_its_join_link_and_sets_local_time_zones(self) -> None:
        assert Union.objects.get(slug="dwu").publish_join_link
        assert dict(Local.objects.values_list("slug", "time_zone")) == {"nairobi": "Africa/Nairobi",
                                                                          "manila": "Asia/Manila"}
        assert 'href="/j/dwu/"' in Client().get("/").content.decode()

    def test_the_demo_applicant_sees_what_happens_next(self) -> None:
        juma = Member.objects.get(user__handle="juma")
        assert juma.status == Member.Status.PENDING and juma.cards.count() == 1
        client = Client()
        assert client.post("/account/login/", {"username": "juma", "password": "tessera-demo-2026"}).status_code == 302
        page = client.get("/").content.decode()
        assert "What happens next" in page and "Nairobi Content Moderators verifies your application" in page


@pytest.mark.django_db
def test_each_demo_card_keeps_the_consents_in_the_language_of_its_text() -> None:
    # The join form records the consent sentences as the worker read them, in the card's language;
    # the demo's Swahili cards (amani's among them) printed them in English under a Swahili text.
    from django.utils import translation

    from membership.forms_join import CONSENTS

    call_command("seed_demo", stdout=io.StringIO())
    amani = UnionCard.objects.get(member__user__handle="amani")
    assert amani.signed["language"] == "sw"
    cards = list(UnionCard.objects.select_related("card_text"))
    assert {card.signed["language"] for card in cards} >= {"sw", "en"}
    for card in cards:
        with translation.override(card.signed["language"]):
            expected = [str(label) for _name, label in CONSENTS]
        assert list(card.signed["consents"].values()) == expected, card.signed["language"]
    with translation.override("sw"):
        assert str(CONSENTS[0][1]) != "I want to join the union."  # the catalog is there: a real check
