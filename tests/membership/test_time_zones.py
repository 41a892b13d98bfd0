"""Dates and times in the member's time zone: their own choice, else their local's, else the server's."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from membership.models import CardText, Local, Member, UnionCard, User
from membership.time_zones import ERR_UNKNOWN_ZONE
from tests.base import Personas, login_as
from tests.services import need

# 12:04 UTC is 15:04 in Nairobi (UTC+3, no summer time) and 20:04 in Manila (UTC+8).
SIGNED_AT = datetime(2026, 3, 10, 12, 4, tzinfo=UTC)


def _card(user: User) -> UnionCard:
    member = Member.objects.get(user=user)
    text = CardText.objects.create(union=member.union, version=1, language="en", title="Card", body="I join.")
    return UnionCard.objects.create(member=member, card_text=text, signed_at=SIGNED_AT, signed={
        "title": "Card", "body": "I join.", "version": 1, "language": "en", "signature": "A. Member",
        "consents": {"1": "I want to join the union."}, "signed_at": SIGNED_AT.isoformat()})


def _set_local_zone(local: Local, name: str) -> None:
    Local.objects.filter(pk=local.pk).update(time_zone=name)


@pytest.mark.django_db
class TestTimeOnPages:
    def test_it_shows_times_in_the_locals_time_zone(self, personas: Personas) -> None:
        _set_local_zone(personas.local, "Africa/Nairobi")
        _card(personas.member)
        page = login_as(Client(), personas.member).get("/me/").content.decode()
        assert "15:04" in page and "12:04" not in page
        assert "Africa/Nairobi" in page

    def test_a_members_own_choice_wins_over_the_locals(self, personas: Personas) -> None:
        _set_local_zone(personas.local, "Africa/Nairobi")
        User.objects.filter(pk=personas.member.pk).update(time_zone="Asia/Manila")
        card = _card(personas.member)
        page = login_as(Client(), personas.member).get(f"/cards/{card.code}/").content.decode()
        assert "20:04" in page and "(Asia/Manila)" in page and "UTC" not in page

    def test_without_any_zone_it_is_the_servers_default(self, personas: Personas, settings: object) -> None:
        settings.TIME_ZONE = "Africa/Lagos"  # type: ignore[attr-defined]  # UTC+1
        _card(personas.member)
        page = login_as(Client(), personas.member).get("/me/").content.decode()
        assert "13:04" in page

    def test_the_zone_of_the_local_costs_no_query_after_the_first_page(
        self, personas: Personas, django_assert_num_queries: object
    ) -> None:
        _set_local_zone(personas.local, "Africa/Nairobi")
        client = login_as(Client(), personas.member)
        client.get("/healthz")  # the first request looks the local's zone up and keeps it in the session
        with django_assert_num_queries(3):  # type: ignore[operator]  # session, user, healthz's own SELECT 1
            client.get("/healthz")


@pytest.mark.django_db
class TestChoosingATimeZone:
    url = "/me/time-zone/"

    def test_it_saves_a_zone_and_the_next_page_uses_it(self, personas: Personas) -> None:
        client = login_as(Client(), personas.member)
        edit = client.get(reverse("membership:me_edit")).content.decode()
        assert 'name="time_zone"' in edit and "Africa / Nairobi" in edit
        response = client.post(self.url, {"time_zone": "America/Bogota"})
        assert response.status_code == 302 and response["Location"] == reverse("membership:me_home")
        personas.member.refresh_from_db()
        assert personas.member.time_zone == "America/Bogota"
        _card(personas.member)
        assert "07:04" in client.get("/me/").content.decode()

    def test_automatic_goes_back_to_the_locals_zone(self, personas: Personas) -> None:
        User.objects.filter(pk=personas.member.pk).update(time_zone="Asia/Manila")
        _set_local_zone(personas.local, "Africa/Nairobi")
        client = login_as(Client(), personas.member)
        assert client.post(self.url, {"time_zone": ""}).status_code == 302
        assert User.objects.get(pk=personas.member.pk).time_zone == ""
        _card(personas.member)
        assert "15:04" in client.get("/me/").content.decode()

    def test_an_unknown_zone_is_refused_with_a_clear_message_and_nothing_changes(self, personas: Personas) -> None:
        User.objects.filter(pk=personas.member.pk).update(time_zone="Asia/Manila")
        client = login_as(Client(), personas.member)
        for bad in ("Mars/Olympus_Mons", "US/Eastern", "../../etc/passwd", "x" * 500):
            response = client.post(self.url, {"time_zone": bad})
            assert response.status_code == 400
            assert str(ERR_UNKNOWN_ZONE) in response.content.decode()
        assert User.objects.get(pk=personas.member.pk).time_zone == "Asia/Manila"

    def test_it_needs_a_login_and_changes_only_ones_own_zone(self, personas: Personas) -> None:
        anonymous = Client().post(self.url, {"time_zone": "Asia/Manila"})
        assert anonymous.status_code == 302 and "/account/login/" in anonymous["Location"]
        login_as(Client(), personas.outsider).post(self.url, {"time_zone": "Asia/Manila"})
        assert User.objects.get(pk=personas.member.pk).time_zone == ""
        assert User.objects.get(pk=personas.outsider.pk).time_zone == "Asia/Manila"

    def test_other_methods_are_refused(self, personas: Personas) -> None:
        assert login_as(Client(), personas.member).delete(self.url).status_code == 405


@pytest.mark.django_db
def test_the_card_pdf_shows_the_members_time_not_utc(personas: Personas) -> None:
    need(shutil.which("pdftotext") is not None, "pdftotext not found (apt-get install poppler-utils)")
    _set_local_zone(personas.local, "Africa/Nairobi")
    card = _card(personas.member)
    response = login_as(Client(), personas.member).get(f"/cards/{card.code}/pdf/")
    assert response.status_code == 200
    pdf = response.getvalue()  # works for a streamed download too
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "15:04" in text and "Africa/Nairobi" in text
    assert "UTC" not in text and "12:04" not in text
