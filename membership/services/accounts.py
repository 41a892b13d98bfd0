"""Roles, sessions, deactivation and the second factor. Callers check access first (permissions.py)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from membership.lifecycle import apply_local_rights
from membership.models import (
    Local,
    RoleGrant,
    User,
    new_session_nonce,
)
from membership.roles import Role
from union.audit import audit_record
from union.realtime import broadcast_on_commit, recheck_sockets_on_commit, user_group


def _apply_role_permissions(user: User, local: Local, role: str | None) -> None:
    # The role is already written (or deleted); what it gives depends on the membership status too.
    apply_local_rights(user, local)


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
    """End every session of `user` on every device, and close their open sockets.

    `reason` is a fixed code from the code ("user request", "deactivated"), never typed text: it
    is written into the audit log as the record's `cause`.
    """
    User.objects.filter(pk=user.pk).update(session_nonce=new_session_nonce())
    user.refresh_from_db(fields=["session_nonce"])
    audit_record(actor, "user.sessions_ended", user, cause=reason)
    broadcast_on_commit(user_group(user.pk), {"type": "session.end"})


def user_end_other_sessions(*, actor: User | None, user: User, reason: str) -> None:
    """End every session of `user` except the caller's, which the caller keeps by storing the new
    session hash in it (without a new session key, so that its open sockets stay): the nonce
    changes, so every other stored session is stale, and the user's sockets re-check at once (the
    caller's pass). `reason` is a fixed code, as for `user_end_sessions`."""
    User.objects.filter(pk=user.pk).update(session_nonce=new_session_nonce())
    user.refresh_from_db(fields=["session_nonce"])
    audit_record(actor, "user.sessions_ended", user, cause=reason)
    recheck_sockets_on_commit(user.pk)


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, reason: str) -> None:
    """Deactivate an account: it cannot log in and all of its sessions end now.

    The reason may be typed by an operator, so it is kept encrypted on the account
    (`User.deactivation_reason`); the audit record names the account only.
    """
    user.is_active, user.deactivation_reason = False, (reason or "").strip()[:500] or None
    user.save(update_fields=["is_active", "deactivation_reason"])
    audit_record(actor, "user.deactivate", user)
    user_end_sessions(actor=actor, user=user, reason="deactivated")


def user_password_changed(*, user: User) -> None:
    audit_record(user, "user.password_change", user)
    # Other sessions no longer match the new password's hash: their sockets close on this event.
    recheck_sockets_on_commit(user.pk)


def two_factor_start(*, user: User) -> Any:
    """A new, unconfirmed authenticator for `user` to enrol (its key is encrypted at rest)."""
    from membership.devices import Authenticator

    return Authenticator.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def two_factor_confirm(*, user: User, device: Any, backup_codes: int = 10) -> list[str]:
    """Confirm a verified TOTP device, drop other pending ones, and issue fresh backup codes.

    The codes are returned once, to be shown once; only their keyed hashes are stored.
    """
    from membership.devices import Authenticator, BackupCodeDevice

    device.confirmed = True
    device.save(update_fields=["confirmed"])
    Authenticator.objects.filter(user=user, confirmed=False).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
    backup = BackupCodeDevice.objects.create(user=user, name="backup codes", confirmed=True)
    codes = backup.issue(backup_codes)
    audit_record(user, "user.two_factor_enrolled", user)
    return codes
