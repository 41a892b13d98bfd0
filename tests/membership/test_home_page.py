"""The start page: what Tessera is and how to join for a visitor; what happens next for an applicant."""

from __future__ import annotations

import pytest
from django.test import Client

from membership.models import Member, Union
from tests.base import Personas, login_as
from tests.factories import make_union

NEXT_STEPS = "What happens next"


@pytest.mark.django_db
class TestAnonymousHome:
    def test_it_says_what_tessera_is_and_how_to_join(self) -> None:
        page = Client().get("/").content.decode()
        assert "content moderators and data annotators" in page
        assert "Your employer cannot see who joins" in page
        assert "How to join" in page and "sign your union card" in page
        assert "Confirm your email address" in page and "An organizer of your local verifies" in page
        assert 'href="/account/login/"' in page

    def test_no_join_link_is_shown_unless_the_union_publishes_it(self) -> None:
        quiet = make_union("Quiet Union")
        assert quiet.publish_join_link is False  # the default: organizing may need to stay quiet
        page = Client().get("/").content.decode()
        assert f"/j/{quiet.slug}/" not in page
        assert "Ask someone you trust for it" in page

    def test_a_union_that_publishes_its_join_link_has_it_on_the_home_page(self) -> None:
        quiet, open_union = make_union("Quiet Union"), make_union("Open Union")
        Union.objects.filter(pk=open_union.pk).update(publish_join_link=True)
        page = Client().get("/").content.decode()
        assert f'href="/j/{open_union.slug}/"' in page and f"Join {open_union.name}" in page
        assert f"/j/{quiet.slug}/" not in page and quiet.name not in page

    def test_a_logged_in_person_sees_their_own_page_not_the_join_steps(self, personas: Personas) -> None:
        page = login_as(Client(), personas.member).get("/").content.decode()
        assert "How to join" not in page and "Your union card" in page


@pytest.mark.django_db
class TestApplicantHome:
    def set_status(self, personas: Personas, status: str) -> Member:
        Member.objects.filter(user=personas.member).update(status=status, dues=Member.Dues.ARREARS)
        return Member.objects.get(user=personas.member)

    def test_a_pending_applicant_is_told_what_happens_next(self, personas: Personas) -> None:
        member = self.set_status(personas, Member.Status.PENDING)
        page = login_as(Client(), personas.member).get("/").content.decode()
        assert NEXT_STEPS in page
        assert "You confirmed your email address." in page
        assert f"An organizer of {member.local.name} verifies your application" in page
        assert "Meanwhile" in page and 'href="/me/edit/"' in page
        assert "Invite a coworker" not in page  # only verified members invite

    def test_a_new_applicant_is_not_in_arrears(self, personas: Personas) -> None:
        self.set_status(personas, Member.Status.PENDING)
        mine = login_as(Client(), personas.member).get("/me/").content.decode()
        assert "In arrears" not in mine and "Not due yet" in mine
        roll = login_as(Client(), personas.organizer).get(f"/roll/{personas.local.code}/").content.decode()
        row = roll[roll.index(f">{personas.member.handle}-p<"):]
        row = row[:row.index("</tr>")]
        assert "Not due yet" in row and "In arrears" not in row

    def test_an_active_member_sees_their_dues_and_no_next_steps(self, personas: Personas) -> None:
        self.set_status(personas, Member.Status.ACTIVE)
        client = login_as(Client(), personas.member)
        assert NEXT_STEPS not in client.get("/").content.decode()
        assert "In arrears" in client.get("/me/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["applicant", "pending", "active", "lapsed", "suspended", "resigned", "rejected"])
def test_every_link_on_a_members_home_page_opens(personas: Personas, status: str) -> None:
    # The page offered "report a problem at work" to applicants and "file a new one" to everyone
    # with a membership, but filing is a member's right (membership/roles.py): those links answered 404.
    import re

    Member.objects.filter(user=personas.member).update(status=status)
    client = login_as(Client(), personas.member)
    page = client.get("/").content.decode()
    links = set(re.findall(r'<a [^>]*href="(/[^"]*)"', page)) - {"/account/logout/"}
    assert links
    broken = {link: client.get(link).status_code for link in links}
    assert {link: code for link, code in broken.items() if code >= 400} == {}
    can_file = status in ("active", "lapsed")
    assert ('href="/grievances/new/"' in page) is can_file
