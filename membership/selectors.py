"""Queries about users, locals and roles that depend on who is asking."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from membership.models import Local, RoleGrant
from membership.roles import OFFICER_ROLES


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


def locals_where(user: Any, codename: str) -> QuerySet[Local]:
    """Locals on which the user holds a permission, filtered in SQL through guardian."""
    from guardian.shortcuts import get_objects_for_user

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Local.objects.none()
    return get_objects_for_user(user, f"membership.{codename}", klass=Local, accept_global_perms=False)
