"""Writes with side effects on users and roles. Callers check access first (permissions.py)."""

from __future__ import annotations

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from membership.models import Local, RoleGrant, User, new_session_nonce
from membership.roles import ROLE_PERMISSIONS, Role
from union.audit import audit_record
from union.realtime import broadcast_on_commit, user_group


def _apply_role_permissions(user: User, local: Local, role: str | None) -> None:
    wanted = ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()
    for codename, _desc in Local._meta.permissions:
        perm = f"membership.{codename}"
        if codename in wanted:
            assign_perm(perm, user, local)
        else:
            remove_perm(perm, user, local)


@transaction.atomic
def role_grant(*, actor: User | None, user: User, local: Local, role: str) -> RoleGrant:
    """Give `user` the `role` in `local` (replacing any other), effective on their next request.

    The caller has checked that the actor may grant this role (`permissions.can_grant_role`).
    """
    role = Role(role)
    grant, created = RoleGrant.objects.select_for_update().get_or_create(
        user=user, local=local, defaults={"role": role, "granted_by": actor}
    )
    previous = None if created else grant.role
    if not created:
        grant.role, grant.granted_by = role, actor
        grant.save(update_fields=["role", "granted_by"])
    _apply_role_permissions(user, local, role)
    audit_record(actor, "role.grant", user, local_id=local.pk, role=str(role), previous=previous)
    broadcast_on_commit(user_group(user.pk), {"type": "roles.changed"})
    return grant


@transaction.atomic
def role_revoke(*, actor: User | None, user: User, local: Local) -> None:
    """Remove whatever role `user` holds in `local`. The caller has checked access."""
    grant = RoleGrant.objects.select_for_update().filter(user=user, local=local).first()
    if grant is None:
        return
    previous = grant.role
    grant.delete()
    _apply_role_permissions(user, local, None)
    audit_record(actor, "role.revoke", user, local_id=local.pk, previous=previous)
    broadcast_on_commit(user_group(user.pk), {"type": "roles.changed"})


@transaction.atomic
def user_end_sessions(*, actor: User | None, user: User, reason: str) -> None:
    """End every session of `user` on every device, and close their open sockets."""
    User.objects.filter(pk=user.pk).update(session_nonce=new_session_nonce())
    user.refresh_from_db(fields=["session_nonce"])
    audit_record(actor, "user.sessions_ended", user, reason=reason)
    broadcast_on_commit(user_group(user.pk), {"type": "session.end"})


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, reason: str) -> None:
    """Deactivate an account: it cannot log in and all of its sessions end now."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    audit_record(actor, "user.deactivate", user, reason=reason)
    user_end_sessions(actor=actor, user=user, reason="deactivated")
