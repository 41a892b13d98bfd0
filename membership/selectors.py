"""Queries about users, locals and roles that depend on who is asking."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet

from membership.models import Local, Member, RoleGrant, User
from membership.roles import OFFICER_ROLES, statuses_allowing
from union.models import AuditEvent


def role_in_local(user: Any, local: Local) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    grant = RoleGrant.objects.filter(user=user, local=local).only("role").first()
    return grant.role if grant else None


def needs_two_factor(user: Any) -> bool:
    """Staff and anyone holding an officer role anywhere must use two-factor authentication."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return RoleGrant.objects.filter(user=user, role__in=OFFICER_ROLES).exists()


def member_status_in(user: Any, local: Local) -> str | None:
    """The status of the user's membership in `local` (None: not a member there, or erased).

    Read once per request: the answer is kept on the user object, which lives for one request.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    cache = user.__dict__.setdefault("_tessera_member_status", {})
    if local.pk not in cache:
        cache[local.pk] = (
            Member.objects.filter(user=user, local=local, erased_at__isnull=True)
            .values_list("status", flat=True)
            .first()
        )
    return cache[local.pk]


def locals_where(user: Any, codename: str) -> QuerySet[Local]:
    """Locals on which the user holds a permission, filtered in SQL through guardian.

    The stored permission counts only while the user's membership in that local has a status that
    allows it (membership/roles.py), checked here in the same query.
    """
    from guardian.shortcuts import get_objects_for_user

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Local.objects.none()
    granted = get_objects_for_user(user, f"membership.{codename}", klass=Local, accept_global_perms=False)
    standing = Member.objects.filter(user=user, erased_at__isnull=True, status__in=statuses_allowing(codename))
    return granted.filter(pk__in=standing.values("local_id"))


def local_perm_pairs(user_ids: set[int], codename: str) -> set[tuple[int, int]]:
    """`locals_where` for many users at once: every (user id, local id) where the user holds
    `codename` on the local now, in three queries whatever the number of users (for the sockets'
    periodic re-check). The same rule: the stored permission, given to the user or to one of their
    groups, counts only while the user is active and their membership's status allows it.
    """
    from django.contrib.contenttypes.models import ContentType
    from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

    if not user_ids:
        return set()
    kind = ContentType.objects.get_for_model(Local)
    found = {(user_id, int(pk)) for user_id, pk in get_user_obj_perms_model()._default_manager.filter(
        user_id__in=user_ids, user__is_active=True, content_type=kind, permission__content_type=kind,
        permission__codename=codename).values_list("user_id", "object_pk")}
    found |= {(user_id, int(pk)) for user_id, pk in get_group_obj_perms_model()._default_manager.filter(
        group__user__in=user_ids, group__user__is_active=True, content_type=kind, permission__content_type=kind,
        permission__codename=codename).values_list("group__user", "object_pk")}
    standing = set(Member.objects.filter(user_id__in={u for u, _l in found}, erased_at__isnull=True,
                                         status__in=statuses_allowing(codename)).values_list("user_id", "local_id"))
    return found & standing


def users_with_local_perm(local: Local, codename: str) -> QuerySet[User]:
    """Active users who hold `codename` on `local` now (role and membership status both allow it)."""
    from guardian.shortcuts import get_users_with_perms

    # guardian annotates the result as `Any | list[str]`; without attach_perms it is a queryset of users.
    holders = cast("QuerySet[User]", get_users_with_perms(local, only_with_perms_in=[codename], with_group_users=True))
    standing = Member.objects.filter(local=local, erased_at__isnull=True, status__in=statuses_allowing(codename))
    return User.objects.filter(pk__in=holders.values("pk"), is_active=True).filter(
        pk__in=standing.values("user_id"))


def pending_authenticator(user: Any) -> Any:
    """The user's newest authenticator still being enrolled, if any."""
    from membership.devices import Authenticator

    return Authenticator.objects.filter(user=user, confirmed=False).order_by("-id").first()


def has_authenticator(user: Any) -> bool:
    from membership.devices import Authenticator

    return Authenticator.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user: Any) -> int:
    from membership.devices import BackupCode

    return BackupCode.objects.filter(device__user=user, device__confirmed=True).count()


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    """Platform staff see every event; local admins the events of their locals; others nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return AuditEvent.objects.none()
    if user.is_staff:
        return AuditEvent.objects.all()
    local_ids = list(locals_where(user, "view_audit").values_list("pk", flat=True))
    if not local_ids:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(local_id__in=local_ids)
