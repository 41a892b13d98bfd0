"""Roles of a local and what each may do: the one place where roles and statuses map to permissions.

Permissions are django-guardian object permissions on the `Local` (codenames listed in
`Local.Meta.permissions`). What a user may do in a local is the permissions of their role there,
cut down by the status of their membership in that local (`effective_permissions`):

| member status                       | rights in the local                                    |
|-------------------------------------|--------------------------------------------------------|
| active                              | everything their role gives (member and officer rights) |
| lapsed (dues lapsed)                | member rights only: see the local, file a grievance     |
| applicant, pending                  | none until an organizer verifies them                   |
| suspended, resigned, rejected       | none                                                    |
| no membership in that local, erased | none                                                    |

Why: an officer acts for the union, so an officer right needs a membership in good standing;
losing it (suspension, resignation, rejection, lapsed dues) or losing the role ends every officer
right at once, assigned grievances included. Applicants get nothing before verification because
anyone, the employer included, can sign up: seeing the local's members or filing in its name waits
for an organizer's check. A person keeps seeing their own grievances as a grievant whatever their
status (that right comes from being a party to the case, not from membership).

The rule is applied twice. `membership.lifecycle.apply_local_rights` rewrites the guardian
permissions whenever a role or a status changes, in the same transaction; and
`membership.permissions.local_perms` / `membership.selectors.locals_where` intersect the stored
permissions with the status read at access time, so a status written by any other path (a bulk
update, an import, the admin) cannot leave a stale grant that still opens anything.
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


# Member statuses (the values of `Member.Status`; spelled out because models import this module).
OFFICER_STATUSES = frozenset({"active"})
MEMBER_STATUSES = frozenset({"active", "lapsed"})


def effective_permissions(role: str | None, status: str | None) -> frozenset[str]:
    """The permissions a `role` gives in a local to someone whose membership there has `status`."""
    granted = ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()
    return granted & status_allows(status)


def status_allows(status: str | None) -> frozenset[str]:
    """The most a membership with `status` may hold in its local, whatever the role."""
    if status in OFFICER_STATUSES:
        return ROLE_PERMISSIONS[Role.LOCAL_ADMIN]
    if status in MEMBER_STATUSES:
        return ROLE_PERMISSIONS[Role.MEMBER]
    return frozenset()


def statuses_allowing(codename: str) -> frozenset[str]:
    """The member statuses under which `codename` may be held (for filtering in SQL)."""
    return frozenset(s for s in MEMBER_STATUSES | OFFICER_STATUSES if codename in status_allows(s))


def can_grant(granter_role: str | None, role: str) -> bool:
    """An officer may grant (or revoke) a role only at or below their own rank."""
    if granter_role is None or granter_role not in OFFICER_ROLES:
        return False
    return RANK[Role(role)] <= RANK[Role(granter_role)]
