"""The member status lifecycle: which changes are allowed. Services enforce it."""

from __future__ import annotations

from membership.models import Local, Member, RoleGrant, User
from membership.roles import effective_permissions
from union.signals import roll_changed

S = Member.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.APPLICANT: frozenset({S.PENDING, S.RESIGNED}),
    S.PENDING: frozenset({S.ACTIVE, S.REJECTED, S.RESIGNED}),
    S.ACTIVE: frozenset({S.LAPSED, S.SUSPENDED, S.RESIGNED}),
    S.LAPSED: frozenset({S.ACTIVE, S.SUSPENDED, S.RESIGNED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.RESIGNED}),
    S.RESIGNED: frozenset({S.PENDING}),
    S.REJECTED: frozenset({S.PENDING}),
}


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def apply_local_rights(user: User, local: Local) -> frozenset[str]:
    """Rewrite `user`'s guardian permissions on `local` from their role and membership status there.

    Called in the same transaction as every role grant or revocation and every status change, so
    a steward who is demoted, suspended, resigns or is rejected holds no officer permission once
    that transaction commits. `membership.permissions.local_perms` checks the status again at
    access time (see membership/roles.py).
    """
    from guardian.shortcuts import assign_perm, remove_perm

    grant = RoleGrant.objects.filter(user=user, local=local).only("role").first()
    status = (
        Member.objects.filter(user=user, local=local, erased_at__isnull=True)
        .values_list("status", flat=True)
        .first()
    )
    wanted = effective_permissions(grant.role if grant else None, status)
    for codename, _desc in Local._meta.permissions:
        if codename in wanted:
            assign_perm(f"membership.{codename}", user, local)
        else:
            remove_perm(f"membership.{codename}", user, local)
    roll_changed.send(sender=Local, local_id=local.pk, user_id=user.pk)
    return wanted
