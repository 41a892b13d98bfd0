"""The roll: listing, filters, search through the blind index, keyset pages, member pages, verification."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from membership.models import Member, MemberStatusChange, UnitHistory
from membership.roll import decode_cursor, encode_cursor
from tests.base import Personas, login_as
from tests.factories import make_unit, make_user
from tests.union.test_fields import raw_column
from union.models import AuditEvent

pytestmark = pytest.mark.django_db


def add_members(p: Personas, n: int, *, prefix: str = "m", **fields: object) -> list[Member]:
    members = [Member(union=p.local.union, local=p.local, pseudonym=f"{prefix}{i:05d}", **fields) for i in range(n)]
    return Member.objects.bulk_create(members)


def roll_url(p: Personas) -> str:
    return reverse("membership:roll_list", kwargs={"local_code": p.local.code})


def member_url(m: Member, name: str = "roll_member") -> str:
    return reverse(f"membership:{name}", kwargs={"member_code": m.code})


def pending_member(p: Personas, *, pseudonym: str = "applicant-x", email: str = "app@example.org") -> Member:
    user = make_user(email=email, language="fr")
    member = Member(union=p.local.union, local=p.local, user=user, pseudonym=pseudonym, status=Member.Status.PENDING)
    member.set_email(email)
    member.save()
    return member


class TestRollList:
    def test_it_lists_the_locals_members_and_not_others(self, personas: Personas) -> None:
        Member.objects.create(union=personas.local.union, local=personas.other_local, pseudonym="elsewhere")
        html = login_as(Client(), personas.steward).get(roll_url(personas)).content.decode()
        assert personas.member.member.pseudonym in html and "elsewhere" not in html

    def test_it_is_never_cached(self, personas: Personas) -> None:
        response = login_as(Client(), personas.steward).get(roll_url(personas))
        assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]

    def test_it_refuses_post(self, personas: Personas) -> None:
        assert login_as(Client(), personas.organizer).post(roll_url(personas)).status_code == 405

    def test_it_hides_the_roll_from_a_member_and_an_outsider(self, personas: Personas) -> None:
        for user in (personas.member, personas.outsider):
            assert login_as(Client(), user).get(roll_url(personas)).status_code == 404

    def test_a_missing_local_is_404(self, personas: Personas) -> None:
        url = reverse("membership:roll_list", kwargs={"local_code": "00000000-0000-0000-0000-000000000000"})
        assert login_as(Client(), personas.organizer).get(url).status_code == 404

    def test_it_filters_by_unit_status_dues_language_and_role(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        add_members(personas, 2, prefix="inunit", unit=unit)
        add_members(personas, 1, prefix="lapsed", status=Member.Status.LAPSED)
        add_members(personas, 1, prefix="exempt", dues=Member.Dues.EXEMPT)
        add_members(personas, 1, prefix="swahili", languages=",sw,en,")
        client = login_as(Client(), personas.organizer)

        def names(**query: str) -> set[str]:
            page = client.get(roll_url(personas), query).context["page"]
            return {m.pseudonym for m in page.members}

        assert names(unit=str(unit.code)) == {"inunit00000", "inunit00001"}
        assert names(status="lapsed") == {"lapsed00000"}
        assert names(dues="exempt") == {"exempt00000"}
        assert names(language="sw") == {"swahili00000"}
        assert names(role="steward") == {personas.steward.member.pseudonym}

    def test_a_bad_filter_shows_an_error_and_the_whole_roll(self, personas: Personas) -> None:
        response = login_as(Client(), personas.organizer).get(roll_url(personas), {"status": "boss"})
        assert response.status_code == 200 and response.context["form"].errors
        assert len(response.context["page"].members) == 5

    def test_it_searches_pseudonyms_by_part(self, personas: Personas) -> None:
        add_members(personas, 3, prefix="kamau")
        page = login_as(Client(), personas.steward).get(roll_url(personas), {"q": "AMAU0000"}).context["page"]
        assert [m.pseudonym for m in page.members] == ["kamau00000", "kamau00001", "kamau00002"]

    def test_it_finds_an_exact_email_or_phone_through_the_blind_index(self, personas: Personas) -> None:
        target = Member(union=personas.local.union, local=personas.local, pseudonym="quiet")
        target.set_email("Wanjiku@Example.org")
        target.set_phone("+254 700 111 222")
        target.save()
        client = login_as(Client(), personas.steward)
        for query in ("wanjiku@example.org", "+254-700-111-222", "+254700111222"):
            page = client.get(roll_url(personas), {"q": query}).context["page"]
            assert [m.pseudonym for m in page.members] == ["quiet"], query
        # Parts of an address do not match: the database holds only HMACs of whole values.
        assert client.get(roll_url(personas), {"q": "wanjiku@"}).context["page"].members == []


class TestKeysetPages:
    def test_it_walks_forward_and_back_without_gaps_or_repeats(self, personas: Personas) -> None:
        add_members(personas, 120)
        client = login_as(Client(), personas.steward)
        seen: list[str] = []
        cursor = ""
        pages = []
        while True:
            page = client.get(roll_url(personas), {"after": cursor} if cursor else {}).context["page"]
            pages.append(page)
            seen += [m.pseudonym for m in page.members]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        expected = sorted(Member.objects.filter(local=personas.local).values_list("pseudonym", flat=True))
        assert seen == expected and len(pages) == 3
        back = client.get(roll_url(personas), {"before": pages[2].prev_cursor}).context["page"]
        assert [m.pseudonym for m in back.members] == [m.pseudonym for m in pages[1].members]

    def test_equal_pseudonyms_are_ordered_by_id(self, personas: Personas) -> None:
        add_members(personas, 60, prefix="same")
        Member.objects.filter(pseudonym__startswith="same").update(pseudonym="same")
        client = login_as(Client(), personas.steward)
        first = client.get(roll_url(personas)).context["page"]
        second = client.get(roll_url(personas), {"after": first.next_cursor}).context["page"]
        ids = [m.pk for m in first.members + second.members if m.pseudonym == "same"]
        assert ids == sorted(ids) and len(ids) == 60

    def test_a_malformed_cursor_is_the_first_page(self, personas: Personas) -> None:
        assert decode_cursor("!!!") is None and decode_cursor(encode_cursor(Member(pseudonym="a", pk=3))) == ("a", 3)
        response = login_as(Client(), personas.steward).get(roll_url(personas), {"after": "bm90IGpzb24"})
        assert response.status_code == 200 and len(response.context["page"].members) == 5

    @pytest.mark.parametrize("size", [10, 300])
    def test_a_page_costs_the_same_queries_whatever_the_roll_size(
        self, personas: Personas, size: int, django_assert_num_queries: DjangoAssertNumQueries
    ) -> None:
        unit = make_unit(personas.local)
        add_members(personas, size, unit=unit, languages=",en,")
        client = login_as(Client(), personas.organizer)
        client.get(roll_url(personas))  # warm the session and permission caches the same way for both sizes
        first = client.get(roll_url(personas)).context["page"]
        with django_assert_num_queries(QUERIES_PER_PAGE):
            client.get(roll_url(personas), {"after": first.next_cursor or "", "unit": str(unit.code)})


# Session, user, 2FA device, local, permissions with the membership status (one query), the
# filtered unit, the page of members with their roles, the unit choices: 8 at 10 members and at 300.
QUERIES_PER_PAGE = 8


class TestMemberPage:
    def test_officers_see_contact_details_and_each_viewing_is_audited(self, personas: Personas) -> None:
        m = personas.member.member
        m.legal_name, m.notes = "Achieng Otieno", "met at the canteen"
        m.set_phone("+254 711 000 111")
        m.save()
        html = login_as(Client(), personas.representative).get(member_url(m)).content.decode()
        assert "Achieng Otieno" in html and "+254711000111" in html and "met at the canteen" in html
        event = AuditEvent.objects.get(action="member.view")
        assert event.actor_id == personas.representative.pk and event.target_id == str(m.code)
        assert event.local_id == personas.local.pk and event.details == {}

    def test_a_member_of_another_local_is_404(self, personas: Personas) -> None:
        url = member_url(personas.outsider.member)
        assert login_as(Client(), personas.local_admin).get(url).status_code == 404
        assert not AuditEvent.objects.filter(action="member.view").exists()

    def test_a_plain_member_cannot_see_a_coworker(self, personas: Personas) -> None:
        url = member_url(personas.steward.member)
        assert login_as(Client(), personas.member).get(url).status_code == 404

    def test_a_steward_sees_no_change_forms(self, personas: Personas) -> None:
        html = login_as(Client(), personas.steward).get(member_url(personas.member.member)).content.decode()
        assert "Change status" not in html


class TestStatusAndDues:
    def test_an_organizer_changes_status_with_a_reason(self, personas: Personas) -> None:
        m = personas.member.member
        response = login_as(Client(), personas.organizer).post(
            member_url(m, "roll_member_status"), {"status": "suspended", "reason": "asked by the branch"})
        assert response.status_code == 302
        m.refresh_from_db()
        assert m.status == "suspended"
        event = AuditEvent.objects.get(action="member.status")
        change = MemberStatusChange.objects.get(member=m)
        # The reason is on the member's status change, encrypted; the audit row names the change.
        assert event.details == {"from": "active", "to": "suspended", "change": change.pk}
        assert (change.from_status, change.to_status, change.reason) == ("active", "suspended", "asked by the branch")
        assert change.changed_by == personas.organizer
        assert raw_column("membership_memberstatuschange", "reason", change.pk) != b"asked by the branch"
        page = login_as(Client(), personas.organizer).get(member_url(m)).content.decode()
        assert "Status history" in page and "asked by the branch" in page

    def test_an_illegal_transition_shows_the_services_message(self, personas: Personas) -> None:
        m = personas.member.member
        response = login_as(Client(), personas.organizer).post(
            member_url(m, "roll_member_status"), {"status": "pending", "reason": "oops"})
        assert response.status_code == 400
        assert "Active cannot become Pending verification" in response.content.decode()
        m.refresh_from_db()
        assert m.status == "active" and not AuditEvent.objects.filter(action="member.status").exists()

    def test_a_missing_reason_changes_nothing(self, personas: Personas) -> None:
        m = personas.member.member
        response = login_as(Client(), personas.organizer).post(member_url(m, "roll_member_status"), {"status": "lapsed"})
        assert response.status_code == 400
        m.refresh_from_db()
        assert m.status == "active"

    def test_a_steward_may_see_but_not_change(self, personas: Personas) -> None:
        m = personas.member.member
        for name, data in (("roll_member_status", {"status": "lapsed", "reason": "x"}), ("roll_member_dues", {"dues": "exempt"})):
            assert login_as(Client(), personas.steward).post(member_url(m, name), data).status_code == 403
        m.refresh_from_db()
        assert (m.status, m.dues) == ("active", "arrears")

    def test_an_outsider_gets_404_on_writes(self, personas: Personas) -> None:
        m = personas.member.member
        response = login_as(Client(), personas.outsider).post(member_url(m, "roll_member_dues"), {"dues": "exempt"})
        assert response.status_code == 404

    def test_dues_are_recorded_and_audited(self, personas: Personas) -> None:
        m = personas.member.member
        response = login_as(Client(), personas.local_admin).post(
            member_url(m, "roll_member_dues"), {"dues": "paid_up", "last_paid": "2026-01-31"})
        assert response.status_code == 302
        m.refresh_from_db()
        assert m.dues == "paid_up" and str(m.dues_last_paid) == "2026-01-31"
        assert AuditEvent.objects.get(action="member.dues").details == {"from": "arrears", "to": "paid_up"}

    def test_bad_dues_change_nothing(self, personas: Personas) -> None:
        m = personas.member.member
        response = login_as(Client(), personas.organizer).post(member_url(m, "roll_member_dues"), {"dues": "rich"})
        assert response.status_code == 400
        m.refresh_from_db()
        assert m.dues == "arrears"


class TestVerification:
    def pending_url(self, p: Personas) -> str:
        return reverse("membership:roll_pending", kwargs={"local_code": p.local.code})

    def test_organizers_see_pending_applications_only(self, personas: Personas) -> None:
        applicant = pending_member(personas)
        page = login_as(Client(), personas.organizer).get(self.pending_url(personas)).context["page"]
        assert [m.pk for m in page.members] == [applicant.pk]

    def test_verifying_activates_and_tells_the_applicant(self, personas: Personas, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
        applicant = pending_member(personas)
        with django_capture_on_commit_callbacks(execute=True):
            response = login_as(Client(), personas.organizer).post(member_url(applicant, "roll_verify"))
        assert response.status_code == 302
        applicant.refresh_from_db()
        assert applicant.status == "active" and applicant.verified_at is not None
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["app@example.org"]
        assert AuditEvent.objects.get(action="member.status").details["to"] == "active"

    def test_rejecting_needs_a_reason(self, personas: Personas) -> None:
        applicant = pending_member(personas)
        client = login_as(Client(), personas.organizer)
        client.post(member_url(applicant, "roll_reject"), {"reason": ""})
        applicant.refresh_from_db()
        assert applicant.status == "pending"
        client.post(member_url(applicant, "roll_reject"), {"reason": "not in any of our units"})
        applicant.refresh_from_db()
        assert applicant.status == "rejected"
        details = AuditEvent.objects.get(action="member.status").details
        assert "reason" not in details and "not in any" not in str(details)
        assert MemberStatusChange.objects.get(pk=details["change"]).reason == "not in any of our units"

    def test_verifying_an_active_member_shows_the_error(self, personas: Personas) -> None:
        response = login_as(Client(), personas.organizer).post(member_url(personas.member.member, "roll_verify"), follow=True)
        assert "cannot become" in response.content.decode()

    def test_a_steward_may_not_verify(self, personas: Personas) -> None:
        applicant = pending_member(personas)
        assert login_as(Client(), personas.steward).post(member_url(applicant, "roll_verify")).status_code == 403
        applicant.refresh_from_db()
        assert applicant.status == "pending"

    def test_an_outsider_may_not_verify(self, personas: Personas) -> None:
        applicant = pending_member(personas)
        assert login_as(Client(), personas.outsider).post(member_url(applicant, "roll_reject"), {"reason": "x"}).status_code == 404
        assert login_as(Client(), None).post(member_url(applicant, "roll_verify")).status_code == 302
        applicant.refresh_from_db()
        assert applicant.status == "pending"


def test_unit_history_is_shown_on_the_member_page(personas: Personas) -> None:
    unit = make_unit(personas.local, project="Queue Zebra")
    UnitHistory.objects.create(member=personas.member.member, unit=unit)
    html = login_as(Client(), personas.organizer).get(member_url(personas.member.member)).content.decode()
    assert "Queue Zebra" in html
