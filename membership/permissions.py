"""Access rules of the membership app. Missing and forbidden both answer 404.

Every permission question about a local goes through `local_perms`, which intersects the user's
guardian permissions with what their membership status allows at that moment (membership/roles.py).
Never ask `user.has_perm("membership.…", local)` directly: it would miss the status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from membership.models import Local, Member, UnionCard
from membership.roles import can_grant, status_allows
from membership.selectors import locals_where, role_in_local

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def access_local(user: Any, code: Any, *, codename: str = "view_local", for_write: bool = False) -> Local:
    """The local with this code if the user holds `codename` on it; else Http404.

    `for_write` is for callers that pass a read permission as `codename` and need `manage_members`
    to change things: a visible local that the user may not change raises PermissionDenied.
    """
    local = Local.objects.filter(code=code).first()
    if local is None or not _has(user, codename, local):
        raise Http404
    if for_write and not _has(user, "manage_members", local):
        raise PermissionDenied
    return local


def can_grant_role(user: Any, local: Local, role: str) -> bool:
    """Only officers with `manage_roles` grant roles, and never one above their own rank."""
    if not _has(user, "manage_roles", local):
        return False
    return can_grant(role_in_local(user, local), role)


def local_perms(user: Any, local: Local) -> frozenset[str]:
    """The user's effective permission codenames on `local`, read once per request (one query).

    The guardian permissions of their role, cut down to what their membership status in the local
    allows now (membership/roles.py): a suspended, resigned or rejected officer, or one whose
    guardian rows were left behind by some other write, holds nothing beyond their status. Roles
    are granted to users, never to groups, so only the user's own object permissions count.
    Each `user.has_perm(..., obj)` makes guardian query again; a page that asks three questions
    would pay six queries. The answer is kept on the user object, which lives for one request,
    so a revoked role or a changed status still takes effect on the next request.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cache = user.__dict__.setdefault("_tessera_local_perms", {})
    if local.pk not in cache:
        cache[local.pk] = _stored_perms_and_status(user, local)
    return cache[local.pk]


def _stored_perms_and_status(user: Any, local: Local) -> frozenset[str]:
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import OuterRef, Subquery
    from guardian.models import UserObjectPermission

    status = Member.objects.filter(user=OuterRef("user_id"), local=local, erased_at__isnull=True).values("status")
    rows = list(
        UserObjectPermission.objects.filter(
            user=user, content_type=ContentType.objects.get_for_model(Local), object_pk=str(local.pk)
        )
        .annotate(status=Subquery(status[:1]))
        .values_list("permission__codename", "status")
    )
    if not rows:
        return frozenset()
    return frozenset(codename for codename, _status in rows) & status_allows(rows[0][1])


def _has(user: Any, codename: str, local: Local) -> bool:
    return codename in local_perms(user, local)


def access_roll_local(user: Any, code: Any, *, need: str = "view_roll") -> Local:
    """The local whose roll `user` may see; 404 unless they hold view_roll on it.

    `need` is a stronger permission (verify_members, manage_members): an officer who sees the roll
    but lacks it gets PermissionDenied (visible but not for them), everyone else 404.
    """
    local = Local.objects.filter(code=code).first()
    if local is None or not _has(user, "view_roll", local):
        raise Http404
    if need != "view_roll" and not _has(user, need, local):
        raise PermissionDenied
    return local


def access_roll_member(user: Any, code: Any, *, need: str = "view_roll") -> Member:
    """A member of a local whose roll `user` may see (same rules as `access_roll_local`)."""
    member = (
        Member.objects.filter(code=code, erased_at__isnull=True)
        .select_related("local", "unit__employer", "unit__client", "user")
        .first()
    )
    if member is None or not _has(user, "view_roll", member.local):
        raise Http404
    if need != "view_roll" and not _has(user, need, member.local):
        raise PermissionDenied
    return member


def access_own_card(user: Any, code: Any) -> UnionCard:
    """The card with this code if it is the user's own; anyone else, officers too, gets 404."""
    card = UnionCard.objects.select_related("member", "card_text").filter(code=code, member__user=user).first()
    if card is None or not getattr(user, "is_active", False):
        raise Http404
    return card



def can_assess_support(user: Any, local: Local) -> bool:
    """Organizers record support: anyone who verifies or manages the local's members."""
    return bool(local_perms(user, local) & {"verify_members", "manage_members"})


def has_local_perm(user: Any, codename: str, local: Local) -> bool:
    """For templates: whether the user holds `codename` on `local` now (status included)."""
    return _has(user, codename, local)


def grantable_roles(user: Any, member: Member) -> list[tuple[str, StrOrPromise]]:
    """Roles the viewer may give this member: none when the member has no account, is the viewer,
    or already holds a role above the viewer's rank."""
    from membership.roles import Role

    current = role_in_local(member.user, member.local) if member.user_id else None
    if member.user_id is None or member.user_id == user.pk or not can_grant_role(user, member.local, current or "member"):
        return []
    return [(role.value, role.label) for role in Role if can_grant_role(user, member.local, role)]


def access_role_change(user: Any, member_code: Any) -> tuple[Member, list[tuple[str, StrOrPromise]]]:
    """A member on a roll the user sees, with the roles the user may give them; 403 if none."""
    member = access_roll_member(user, member_code)
    choices = grantable_roles(user, member)
    if not choices:
        raise PermissionDenied
    return member, choices


def access_assessable_member(user: Any, local_code: Any, member_code: Any) -> tuple[Local, Member]:
    """A member whose support the user may record: 404 unless they see the roll, 403 unless they
    organize, 404 for a member not on this local's roll (or erased)."""
    local = access_local(user, local_code, codename="view_roll")
    if not can_assess_support(user, local):
        raise PermissionDenied
    member = Member.objects.filter(local=local, code=member_code, erased_at__isnull=True).first()
    if member is None:
        raise Http404
    return local, member


def access_own_member(user: Any) -> Member:
    """The member record of the logged-in account, whatever its status; 404 without one (or erased).

    Every member may see, export, resign or erase their own record: these are their rights over
    their own data, not membership rights.
    """
    member = (
        Member.objects.filter(user=user, erased_at__isnull=True)
        .select_related("union", "local", "unit__employer", "unit__client").first()
    )
    if member is None or not getattr(user, "is_active", False):
        raise Http404
    return member


def access_inviting_member(user: Any, union: Any) -> Member:
    """Only an active member of the union invites coworkers; anyone else gets 404."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404
    member = Member.objects.filter(user=user, union=union, erased_at__isnull=True).first()
    if member is None or member.status != Member.Status.ACTIVE:
        raise Http404
    return member


def can_view_audit(user: Any) -> bool:
    """Platform staff, and local admins (view_audit on a local), read the audit log."""
    return bool(getattr(user, "is_authenticated", False)) and (
        user.is_staff or locals_where(user, "view_audit").exists()
    )
