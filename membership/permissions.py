"""Access rules of the membership app. Missing and forbidden both answer 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from membership.models import Local
from membership.roles import can_grant
from membership.selectors import role_in_local


def access_local(user: Any, code: Any, *, codename: str = "view_local", for_write: bool = False) -> Local:
    """The local with this code if the user holds `codename` on it; else Http404.

    `for_write` is for callers that pass a read permission as `codename` and need `manage_members`
    to change things: a visible local that the user may not change raises PermissionDenied.
    """
    local = Local.objects.filter(code=code).first()
    if local is None or not getattr(user, "is_active", False) or not user.has_perm(f"membership.{codename}", local):
        raise Http404
    if for_write and not user.has_perm("membership.manage_members", local):
        raise PermissionDenied
    return local


def can_grant_role(user: Any, local: Local, role: str) -> bool:
    """Only officers with `manage_roles` grant roles, and never one above their own rank."""
    if not user.has_perm("membership.manage_roles", local):
        return False
    return can_grant(role_in_local(user, local), role)
