"""Who may see and work a grievance. Missing and not visible both answer 404.

- The assigned steward sees and works the case, whatever its confidentiality, but only while they
  hold `manage_grievances` in the case's local now: a steward set back to member, suspended,
  resigned or rejected keeps the assignment row but no access (checked here, at every request, so
  no stale assignment can open anything).
- Officers of the local with `view_grievances` see its cases, except restricted ones; with
  `manage_grievances` they work them too.
- Restricted cases: only the assigned steward and holders of `view_restricted_grievances`
  (local admins).
- Grievants see their own case and the events shared with them, never internal notes.
- A draft is seen only by whoever filed it (and the grievants when they filed it themselves); a
  draft filed on someone's behalf stays with its filer only while they still work grievances.
- Filing a grievance needs `file_grievance` in one's own local: an active or lapsed member.

Permissions on the local are read through `membership.permissions.local_perms`, which also applies
the membership-status rule (membership/roles.py).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from grievances.models import Event, Evidence, Grievance, Grievant, Letter
from membership.models import Local, Member
from membership.permissions import local_perms
from membership.selectors import locals_where

OFFICER = "officer"
GRIEVANT = "grievant"


def _is_grievant(user: Any, grievance: Grievance) -> bool:
    return Grievant.objects.filter(grievance=grievance, member__user=user).exists()


def _works_grievances(user: Any, local: Local) -> bool:
    return "manage_grievances" in local_perms(user, local)


def viewer_level(user: Any, grievance: Grievance) -> str | None:
    """"officer", "grievant" or None: how much of this case the user may see."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    local = grievance.local
    if grievance.status == Grievance.Status.DRAFT:
        if grievance.filed_by_id != user.pk:
            return None
        if _is_grievant(user, grievance):
            return GRIEVANT
        return OFFICER if _works_grievances(user, local) else None
    perms = local_perms(user, local)
    if grievance.steward_id == user.pk and "manage_grievances" in perms:
        return OFFICER
    if grievance.confidentiality == Grievance.Confidentiality.RESTRICTED:
        if "view_restricted_grievances" in perms:
            return OFFICER
    elif "view_grievances" in perms:
        return OFFICER
    return GRIEVANT if _is_grievant(user, grievance) else None


def can_work(user: Any, grievance: Grievance) -> bool:
    """May change the case: a visible officer who works the local's grievances now.

    The assigned steward is one of them only while they hold `manage_grievances` (viewer_level).
    """
    if viewer_level(user, grievance) != OFFICER:
        return False
    return _works_grievances(user, grievance.local)


def access_grievance(user: Any, code: Any, *, for_write: bool = False) -> tuple[Grievance, str]:
    """The case and the viewer's level; Http404 when missing or hidden, PermissionDenied when read-only."""
    grievance = (
        Grievance.objects.filter(code=code)
        .select_related("local", "unit", "employer", "category", "step", "steward", "union")
        .first()
    )
    if grievance is None:
        raise Http404
    level = viewer_level(user, grievance)
    if level is None:
        raise Http404
    if for_write and not can_work(user, grievance):
        raise PermissionDenied
    return grievance, level


def access_officer_grievance(user: Any, code: Any, *, for_write: bool = False) -> Grievance:
    """A case seen as one of its officers (letters, register); grievants and everyone else get 404."""
    grievance, level = access_grievance(user, code)
    if level != OFFICER:
        raise Http404
    if for_write and not can_work(user, grievance):
        raise PermissionDenied
    return grievance


def access_register(user: Any, code: Any) -> Grievance:
    """The retaliation register: for the case's officers, on retaliation cases only."""
    grievance = access_officer_grievance(user, code)
    if not grievance.category.is_retaliation:
        raise Http404
    return grievance


def access_own_draft(user: Any, code: Any) -> tuple[Grievance, str]:
    """A draft its filer may still change or submit; anyone else who sees the case gets 403.

    A grievant who filed their own draft needs `file_grievance` to go on with it: a member who was
    suspended, resigned or was rejected meanwhile may read the draft but not file it.
    """
    grievance, level = access_grievance(user, code)
    if not can_edit_draft(user, grievance, level):
        raise PermissionDenied
    return grievance, level


def can_edit_draft(user: Any, grievance: Grievance, level: str) -> bool:
    """Whether the viewer may change or submit this draft (see `access_own_draft`)."""
    if grievance.status != Grievance.Status.DRAFT or grievance.filed_by_id != user.pk:
        return False
    return level != GRIEVANT or "file_grievance" in local_perms(user, grievance.local)


def access_correctable_event(grievance: Grievance, code: Any) -> Event:
    """A timeline entry of this case that may be corrected (not itself a correction); else 404.

    The caller has already checked that the user works the case (`access_grievance(for_write=True)`).
    """
    event = grievance.events.select_related("author__member", "grievance__local").filter(code=code).first()
    if event is None or event.kind == Event.Kind.CORRECTION:
        raise Http404
    return event


def can_see_event(level: str, event: Event) -> bool:
    return level == OFFICER or event.shared


def can_upload_evidence(user: Any, grievance: Grievance, level: str) -> bool:
    """Grievants add evidence to their own case; officers only if they work it."""
    return level == GRIEVANT or can_work(user, grievance)


def access_evidence(user: Any, code: Any) -> Evidence:
    """Evidence is for the case's officers and for grievants (it is their case)."""
    evidence = Evidence.objects.filter(code=code).select_related("grievance__local").first()
    if evidence is None or viewer_level(user, evidence.grievance) is None:
        raise Http404
    return evidence


def access_letter(user: Any, code: Any) -> Letter:
    """A letter is for the case's officers only; grievants and everyone else get 404."""
    letter = Letter.objects.filter(code=code).select_related("grievance").first()
    if letter is None:
        raise Http404
    access_officer_grievance(user, letter.grievance.code)
    return letter


def access_filing_member(user: Any) -> Member:
    """The user's own membership, if it lets them file a grievance in their local; else Http404.

    Applicants, rejected, suspended and resigned members hold no `file_grievance` (membership/roles.py).
    """
    member = Member.objects.filter(user=user, erased_at__isnull=True).select_related("local", "unit", "union").first()
    if member is None or "file_grievance" not in local_perms(user, member.local):
        raise Http404
    return member


def access_steward_local(user: Any) -> Local:
    """The (first) local where the user works grievances, for filing on a member's behalf; else 403."""
    local = locals_where(user, "manage_grievances").select_related("union").order_by("pk").first()
    if local is None:
        raise PermissionDenied
    return local


def can_be_assigned(steward: Any, local: Local) -> bool:
    """Only someone who works grievances in the local now may be assigned a case there."""
    return bool(getattr(steward, "is_active", False)) and _works_grievances(steward, local)


def access_grievance_for_upload(user: Any, code: Any) -> tuple[Grievance, str]:
    """A case the user may add evidence to: its grievants and those who work it; 403 for other viewers."""
    grievance, level = access_grievance(user, code)
    if not can_upload_evidence(user, grievance, level):
        raise PermissionDenied
    return grievance, level


def can_file_own(user: Any) -> bool:
    """Whether the user may file a grievance of their own (the list pages offer the link only then)."""
    try:
        access_filing_member(user)
    except Http404:
        return False
    return True


def can_file_for_members(user: Any) -> bool:
    """Whether the user files cases on members' behalf somewhere (works a local's grievances)."""
    return locals_where(user, "manage_grievances").exists()


def is_grievance_officer(user: Any) -> bool:
    """Whether the user sees some local's cases (for the list page's navigation)."""
    return locals_where(user, "view_grievances").exists()
