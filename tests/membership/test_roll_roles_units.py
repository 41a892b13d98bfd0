"""On a member's page: moving them to another workplace, and giving them a role."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from membership.models import Member, RoleGrant, UnitHistory
from membership.services import MembershipError, member_change_unit
from tests.base import Personas, login_as
from tests.factories import make_unit
from union.models import AuditEvent


def url(name: str, member: Member) -> str:
    return reverse(f"membership:{name}", kwargs={"member_code": member.code})


@pytest.fixture
def target(personas: Personas) -> Member:
    return Member.objects.get(user=personas.member)


class TestChangeUnit:
    def test_an_organizer_moves_a_member_and_the_history_is_kept(self, client: Client, personas: Personas,
                                                                 target: Member) -> None:
        first, second = make_unit(personas.local), make_unit(personas.local, country="KE")
        member_change_unit(actor=personas.organizer, member=target, unit=first)
        response = login_as(client, personas.organizer).post(url("roll_member_unit", target), {"unit": second.pk})
        assert response.status_code == 302
        target.refresh_from_db()
        assert target.unit == second
        history = list(UnitHistory.objects.filter(member=target).order_by("started_at"))
        assert [h.unit for h in history] == [first, second]
        assert history[0].ended_at is not None and history[1].ended_at is None
        assert AuditEvent.objects.filter(action="member.unit", details__unit=second.pk).exists()
        page = client.get(url("roll_member", target)).content.decode()
        assert str(first) in page and str(second) in page

    def test_a_unit_of_another_local_is_refused(self, client: Client, personas: Personas, target: Member) -> None:
        elsewhere = make_unit(personas.other_local)
        response = login_as(client, personas.organizer).post(url("roll_member_unit", target), {"unit": elsewhere.pk})
        assert response.status_code == 400
        target.refresh_from_db()
        assert target.unit_id is None
        with pytest.raises(MembershipError):
            member_change_unit(actor=personas.organizer, member=target, unit=elsewhere)

    @pytest.mark.parametrize("who,status", [("steward", 403), ("representative", 403), ("member", 404),
                                            ("outsider", 404)])
    def test_others_cannot(self, client: Client, personas: Personas, target: Member, who: str, status: int) -> None:
        unit = make_unit(personas.local)
        response = login_as(client, personas.get(who)).post(url("roll_member_unit", target), {"unit": unit.pk})
        assert response.status_code == status
        target.refresh_from_db()
        assert target.unit_id is None


class TestRoles:
    def test_a_local_admin_makes_a_member_a_steward(self, client: Client, personas: Personas, target: Member) -> None:
        page = login_as(client, personas.local_admin).get(url("roll_member", target)).content.decode()
        assert 'name="role"' in page
        response = client.post(url("roll_member_role", target), {"role": "steward"})
        assert response.status_code == 302
        assert RoleGrant.objects.get(user=personas.member, local=personas.local).role == "steward"
        assert personas.member.has_perm("membership.manage_grievances", personas.local)
        # Their open session now needs two-factor authentication before anything else.
        member_client = Client()
        member_client.force_login(personas.member)  # a session without a second factor
        assert member_client.get("/")["Location"] == reverse("account:two_factor_setup")

    def test_a_bad_role_changes_nothing(self, client: Client, personas: Personas, target: Member) -> None:
        response = login_as(client, personas.local_admin).post(url("roll_member_role", target), {"role": "boss"})
        assert response.status_code == 400
        assert RoleGrant.objects.get(user=personas.member, local=personas.local).role == "member"

    @pytest.mark.parametrize("who,status", [("steward", 403), ("organizer", 403), ("representative", 403),
                                            ("member", 404), ("outsider", 404)])
    def test_only_those_who_manage_roles_may(self, client: Client, personas: Personas, target: Member,
                                             who: str, status: int) -> None:
        response = login_as(client, personas.get(who)).post(url("roll_member_role", target), {"role": "steward"})
        assert response.status_code == status
        assert RoleGrant.objects.get(user=personas.member, local=personas.local).role == "member"

    def test_no_role_above_ones_own_and_no_one_above_oneself(self, client: Client, personas: Personas) -> None:
        from guardian.shortcuts import assign_perm

        assign_perm("membership.manage_roles", personas.organizer, personas.local)
        target = Member.objects.get(user=personas.member)
        login_as(client, personas.organizer)
        assert client.post(url("roll_member_role", target), {"role": "local_admin"}).status_code == 400
        assert client.post(url("roll_member_role", target), {"role": "steward"}).status_code == 302
        admin = Member.objects.get(user=personas.local_admin)
        assert client.post(url("roll_member_role", admin), {"role": "member"}).status_code == 403
        assert RoleGrant.objects.get(user=personas.local_admin).role == "local_admin"

    def test_nobody_changes_their_own_role(self, client: Client, personas: Personas) -> None:
        own = Member.objects.get(user=personas.local_admin)
        assert login_as(client, personas.local_admin).post(url("roll_member_role", own),
                                                           {"role": "member"}).status_code == 403


class TestNotes:
    def test_an_organizer_writes_notes_kept_encrypted(self, client: Client, personas: Personas,
                                                     target: Member) -> None:
        from django.db import connection

        response = login_as(client, personas.organizer).post(url("roll_member_notes", target),
                                                             {"notes": "Qzxnotes talked at the canteen"})
        assert response.status_code == 302
        target.refresh_from_db()
        assert target.notes == "Qzxnotes talked at the canteen"
        with connection.cursor() as cursor:
            cursor.execute("SELECT notes FROM membership_member WHERE id = %s", [target.pk])
            assert b"Qzxnotes" not in bytes(cursor.fetchone()[0])
        event = AuditEvent.objects.get(action="member.notes")
        assert "Qzxnotes" not in str(event.details)
        assert "Qzxnotes talked" in client.get(url("roll_member", target)).content.decode()

    @pytest.mark.parametrize("who,status", [("steward", 403), ("representative", 403), ("member", 404),
                                            ("outsider", 404)])
    def test_others_cannot(self, client: Client, personas: Personas, target: Member, who: str, status: int) -> None:
        response = login_as(client, personas.get(who)).post(url("roll_member_notes", target), {"notes": "x"})
        assert response.status_code == status
        target.refresh_from_db()
        assert target.notes is None

    def test_too_long_notes_change_nothing(self, client: Client, personas: Personas, target: Member) -> None:
        response = login_as(client, personas.organizer).post(url("roll_member_notes", target), {"notes": "x" * 4001})
        assert response.status_code == 400
        target.refresh_from_db()
        assert target.notes is None


def test_a_refused_status_change_is_explained_in_the_officers_language(client: Client, personas: Personas,
                                                                        target: Member) -> None:
    login_as(client, personas.organizer)
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    response = client.post(url("roll_member_status", target), {"status": "applicant", "reason": "test"})
    assert response.status_code == 400
    assert "Ce changement de statut n&#x27;est pas permis" in response.content.decode()
    target.refresh_from_db()
    assert target.status == Member.Status.ACTIVE


def test_the_level_in_use_message_has_its_plural_in_the_catalog() -> None:
    from django.utils import translation

    from membership.support import level_in_use_message

    with translation.override("fr"):
        assert level_in_use_message(1).startswith("Ce niveau a servi dans 1 évaluation :")
        assert "3 évaluations" in level_in_use_message(3)
