"""Roles of a local and what each may do: the one place where roles map to permissions.

Permissions are django-guardian object permissions on the `Local` (codenames listed in
`Local.Meta.permissions`). `membership.services.role_grant` applies them; views and selectors ask
`user.has_perm("membership.<codename>", local)` through the apps' permissions.py.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MEMBER = "member", _("Member")
    STEWARD = "steward", _("Steward")
    ORGANIZER = "organizer", _("Organizer")
    REPRESENTATIVE = "representative", _("Representative")
    LOCAL_ADMIN = "local_admin", _("Local admin")


# Rank decides who may grant what: an officer grants roles at or below their own rank.
RANK = {
    Role.MEMBER: 0,
    Role.STEWARD: 1,
    Role.ORGANIZER: 2,
    Role.REPRESENTATIVE: 2,
    Role.LOCAL_ADMIN: 3,
}
OFFICER_ROLES = frozenset({Role.STEWARD, Role.ORGANIZER, Role.REPRESENTATIVE, Role.LOCAL_ADMIN})

# Permission codenames on Local, with their descriptions (used by Local.Meta.permissions).
LOCAL_PERMISSIONS = (
    ("view_local", "See the local's member area"),
    ("file_grievance", "File a grievance in the local"),
    ("view_roll", "See the local's membership roll"),
    ("verify_members", "Verify or reject applications"),
    ("manage_members", "Edit members, import and export the roll"),
    ("view_grievances", "See the local's grievances"),
    ("manage_grievances", "Work the local's grievances"),
    ("view_restricted_grievances", "See the local's restricted grievances"),
    ("draft_demands", "Draft bargaining demands"),
    ("manage_roles", "Grant and revoke roles"),
    ("view_audit", "See the local's audit log"),
)

_MEMBER = {"view_local", "file_grievance"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.MEMBER: frozenset(_MEMBER),
    Role.STEWARD: frozenset(_MEMBER | {"view_roll", "view_grievances", "manage_grievances"}),
    Role.ORGANIZER: frozenset(_MEMBER | {"view_roll", "verify_members", "manage_members", "view_grievances"}),
    Role.REPRESENTATIVE: frozenset(_MEMBER | {"view_roll", "view_grievances", "draft_demands"}),
    Role.LOCAL_ADMIN: frozenset(code for code, _desc in LOCAL_PERMISSIONS),
}


def can_grant(granter_role: str | None, role: str) -> bool:
    """An officer may grant (or revoke) a role only at or below their own rank."""
    if granter_role is None or granter_role not in OFFICER_ROLES:
        return False
    return RANK[Role(role)] <= RANK[Role(granter_role)]
