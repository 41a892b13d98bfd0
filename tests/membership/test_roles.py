"""Roles: one mapping to guardian permissions, granted and revoked at once, never above one's own."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from membership.models import Local, User
from membership.permissions import access_local, can_grant_role, local_perms
from membership.roles import ROLE_PERMISSIONS, Role
from membership.services import role_grant, role_revoke
from tests.base import Personas
from tests.factories import make_member, make_user
from union.models import AuditEvent


def perms(user: User, local: Local) -> set[str]:
    from guardian.shortcuts import get_perms

    return set(get_perms(user, local))


class TestGrants:
    @pytest.mark.parametrize("role", list(Role))
    def test_each_role_gets_exactly_its_permissions(self, personas: Personas, role: Role) -> None:
        user = make_member(personas.local)
        role_grant(actor=personas.local_admin, user=user, local=personas.local, role=role)
        assert perms(user, personas.local) == set(ROLE_PERMISSIONS[role])
        assert perms(user, personas.other_local) == set()

    @pytest.mark.parametrize("role", list(Role))
    def test_a_role_gives_nothing_without_an_active_membership_in_the_local(
            self, personas: Personas, role: Role) -> None:
        user = make_user()
        role_grant(actor=personas.local_admin, user=user, local=personas.local, role=role)
        assert perms(user, personas.local) == set()
        assert local_perms(user, personas.local) == frozenset()

    def test_changing_a_role_removes_the_old_permissions(self, personas: Personas) -> None:
        role_grant(actor=personas.local_admin, user=personas.organizer, local=personas.local, role="member")
        assert "view_roll" not in perms(personas.organizer, personas.local)

    def test_revoking_removes_everything_and_is_audited(self, personas: Personas) -> None:
        role_revoke(actor=personas.local_admin, user=personas.steward, local=personas.local)
        assert perms(personas.steward, personas.local) == set()
        event = AuditEvent.objects.filter(action="role.revoke").get()
        assert event.actor_id == personas.local_admin.pk and event.details == {"previous": "steward"}

    def test_a_grant_is_audited_with_the_previous_role(self, personas: Personas) -> None:
        role_grant(actor=personas.local_admin, user=personas.member, local=personas.local, role="steward")
        event = AuditEvent.objects.filter(action="role.grant").order_by("-seq").first()
        assert event is not None
        assert event.details == {"role": "steward", "previous": "member"} and event.local_id == personas.local.pk

    def test_a_bad_role_changes_nothing(self, personas: Personas) -> None:
        with pytest.raises(ValueError):
            role_grant(actor=None, user=personas.member, local=personas.local, role="boss")
        assert perms(personas.member, personas.local) == set(ROLE_PERMISSIONS[Role.MEMBER])


class TestWhoMayGrant:
    @pytest.mark.parametrize("role", list(Role))
    def test_a_local_admin_may_grant_any_role(self, personas: Personas, role: Role) -> None:
        assert can_grant_role(personas.local_admin, personas.local, role)

    @pytest.mark.parametrize("who", ["member", "steward", "organizer", "representative", "outsider"])
    def test_nobody_else_may_grant_roles(self, personas: Personas, who: str) -> None:
        assert not can_grant_role(personas.get(who), personas.local, Role.MEMBER)

    def test_an_officer_with_manage_roles_cannot_grant_above_their_rank(self, personas: Personas) -> None:
        from guardian.shortcuts import assign_perm

        assign_perm("membership.manage_roles", personas.organizer, personas.local)
        assert can_grant_role(personas.organizer, personas.local, Role.STEWARD)
        assert can_grant_role(personas.organizer, personas.local, Role.REPRESENTATIVE)
        assert not can_grant_role(personas.organizer, personas.local, Role.LOCAL_ADMIN)


class TestAccessLocal:
    def test_members_see_their_local(self, personas: Personas) -> None:
        assert access_local(personas.member, personas.local.code) == personas.local

    def test_outsiders_and_missing_locals_look_the_same(self, personas: Personas) -> None:
        import uuid

        with pytest.raises(Http404):
            access_local(personas.outsider, personas.local.code)
        with pytest.raises(Http404):
            access_local(personas.member, uuid.uuid4())

    def test_a_deactivated_officer_sees_nothing(self, personas: Personas) -> None:
        personas.local_admin.is_active = False
        with pytest.raises(Http404):
            access_local(personas.local_admin, personas.local.code)

    def test_readers_who_may_not_write_get_permission_denied(self, personas: Personas) -> None:
        with pytest.raises(PermissionDenied):
            access_local(personas.steward, personas.local.code, codename="view_roll", for_write=True)
        assert access_local(personas.organizer, personas.local.code, codename="view_roll", for_write=True)

    def test_a_new_member_of_another_local_is_an_outsider(self, personas: Personas) -> None:
        stranger = make_member(personas.other_local, "local_admin")
        with pytest.raises(Http404):
            access_local(stranger, personas.local.code, codename="view_roll")
