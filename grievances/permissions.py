"""Who may see and work a grievance. Missing and not visible both answer 404.

- The assigned steward sees and works the case, whatever its confidentiality.
- Officers of the local with `view_grievances` see its cases, except restricted ones; with
  `manage_grievances` they work them too.
- Restricted cases: only the assigned steward and holders of `view_restricted_grievances`
  (local admins).
- Grievants see their own case and the events shared with them, never internal notes.
- A draft is seen only by whoever filed it (and the grievants when they filed it themselves).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from grievances.models import Event, Evidence, Grievance, Grievant
from membership.models import Member

OFFICER = "officer"
GRIEVANT = "grievant"


def _is_grievant(user: Any, grievance: Grievance) -> bool:
    return Grievant.objects.filter(grievance=grievance, member__user=user).exists()


def viewer_level(user: Any, grievance: Grievance) -> str | None:
    """"officer", "grievant" or None: how much of this case the user may see."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if grievance.status == Grievance.Status.DRAFT:
        if grievance.filed_by_id == user.pk:
            return GRIEVANT if _is_grievant(user, grievance) else OFFICER
        return None
    if grievance.steward_id == user.pk:
        return OFFICER
    local = grievance.local
    if grievance.confidentiality == Grievance.Confidentiality.RESTRICTED:
        if user.has_perm("membership.view_restricted_grievances", local):
            return OFFICER
    elif user.has_perm("membership.view_grievances", local):
        return OFFICER
    return GRIEVANT if _is_grievant(user, grievance) else None


def can_work(user: Any, grievance: Grievance) -> bool:
    """May change the case: the assigned steward, or a visible officer with `manage_grievances`."""
    if viewer_level(user, grievance) != OFFICER:
        return False
    if grievance.status == Grievance.Status.DRAFT:
        return grievance.filed_by_id == user.pk
    return grievance.steward_id == user.pk or user.has_perm("membership.manage_grievances", grievance.local)


def access_grievance(user: Any, code: Any, *, for_write: bool = False) -> tuple[Grievance, str]:
    """The case and the viewer's level; Http404 when missing or hidden, PermissionDenied when read-only."""
    grievance = (
        Grievance.objects.filter(code=code)
        .select_related("local", "unit", "employer", "category", "step", "steward", "union")
        .first()
    )
    level = viewer_level(user, grievance) if grievance is not None else None
    if level is None:
        raise Http404
    if for_write and not can_work(user, grievance):
        raise PermissionDenied
    return grievance, level


def can_see_event(level: str, event: Event) -> bool:
    return level == OFFICER or event.shared


def access_evidence(user: Any, code: Any) -> Evidence:
    """Evidence is for the case's officers and for grievants (it is their case)."""
    evidence = Evidence.objects.filter(code=code).select_related("grievance").first()
    if evidence is None or viewer_level(user, evidence.grievance) is None:
        raise Http404
    return evidence


def access_filing_member(user: Any) -> Member:
    """The user's own membership, if it lets them file a grievance in their local; else Http404."""
    member = Member.objects.filter(user=user, erased_at__isnull=True).select_related("local", "unit").first()
    if member is None or not user.has_perm("membership.file_grievance", member.local):
        raise Http404
    return member
