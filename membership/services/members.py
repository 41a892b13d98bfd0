"""A member's status, dues, workplace and notes, as officers change them. Callers check access first."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy

from membership.lifecycle import apply_local_rights
from membership.models import (
    BargainingUnit,
    Member,
    MemberStatusChange,
    UnitHistory,
    User,
)
from membership.services.errors import MembershipError
from membership.tally import tally_tracked
from union.audit import audit_record
from union.realtime import broadcast_on_commit, user_group

ERR_TRANSITION = gettext_lazy("This change of status is not allowed: %(current)s cannot become %(new)s.")


ERR_REASON = gettext_lazy("Give a reason (it is kept encrypted with the member's record).")


def _set_status(*, actor: User | None, member: Member, new: str, reason: str) -> None:
    from django.utils import timezone

    from membership.lifecycle import can_move

    current = member.status
    if not can_move(current, new):
        raise MembershipError(ERR_TRANSITION % {
            "current": Member.Status(current).label, "new": Member.Status(new).label})
    with tally_tracked(member):
        member.status, member.status_changed_at = new, timezone.now()
        _save_status(actor=actor, member=member, current=current, new=new, reason=reason)


def _save_status(*, actor: User | None, member: Member, current: str, new: str, reason: str) -> None:
    fields = ["status", "status_changed_at"]
    if new == Member.Status.ACTIVE and member.verified_at is None:
        member.verified_at = member.status_changed_at
        fields.append("verified_at")
    member.save(update_fields=fields)
    # The reason stays with the member, encrypted; the audit record names the change by id only.
    change = MemberStatusChange.objects.create(
        member=member, from_status=current, to_status=new, reason=reason or None,
        changed_by=actor if actor is not None and actor.is_authenticated else None,
        changed_at=member.status_changed_at)
    if member.user is not None:
        # Same transaction: a suspended, resigned or rejected officer loses every right at once.
        apply_local_rights(member.user, member.local)
        broadcast_on_commit(user_group(member.user.pk), {"type": "roles.changed"})
    audit_record(actor, "member.status", member, local_id=member.local_id, **{"from": current, "to": new},
                 change=change.pk)


@transaction.atomic
def member_set_status(*, actor: User, member: Member, new: str, reason: str) -> Member:
    """Move a member through the lifecycle, with a reason. The caller checked `manage_members`."""
    reason = (reason or "").strip()
    if not reason:
        raise MembershipError(ERR_REASON)
    member = Member.objects.select_for_update().get(pk=member.pk)
    _set_status(actor=actor, member=member, new=new, reason=reason[:500])
    return member


@transaction.atomic
def member_verify(*, actor: User, member: Member) -> Member:
    """An organizer verifies a pending application; the applicant is told in the app and by email."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    _set_status(actor=actor, member=member, new=Member.Status.ACTIVE, reason="verified")
    _tell_applicant(member, verified=True)
    return member


@transaction.atomic
def member_reject(*, actor: User, member: Member, reason: str) -> Member:
    """An organizer rejects a pending application with a reason (kept encrypted, not sent)."""
    reason = (reason or "").strip()
    if not reason:
        raise MembershipError(ERR_REASON)
    member = Member.objects.select_for_update().get(pk=member.pk)
    _set_status(actor=actor, member=member, new=Member.Status.REJECTED, reason=reason[:500])
    _tell_applicant(member, verified=False)
    return member


def _tell_applicant(member: Member, *, verified: bool) -> None:
    from union import emails
    from union.realtime import notify_user

    user = member.user
    if user is None:
        return
    from django.utils import translation
    from django.utils.translation import gettext

    with translation.override(user.language or "en"):
        text = gettext("Your membership was verified. Welcome!") if verified else gettext(
            "Your application was not accepted. An organizer can tell you why.")
    notify_user(user.pk, kind="membership.decision", text=text, url="/")
    if user.email:
        transaction.on_commit(lambda: emails.membership_decision(user, verified=verified))


@transaction.atomic
def member_set_dues(*, actor: User, member: Member, dues: str, last_paid: object = None) -> Member:
    """Record a member's dues standing (no payment processing). The caller checked `manage_members`."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    previous = member.dues
    member.dues = Member.Dues(dues)
    member.dues_last_paid = last_paid  # type: ignore[assignment]
    member.save(update_fields=["dues", "dues_last_paid"])
    audit_record(actor, "member.dues", member, local_id=member.local_id, **{"from": previous, "to": member.dues})
    return member


ERR_UNIT_LOCAL = gettext_lazy("This workplace belongs to another local.")


@transaction.atomic
def member_change_unit(*, actor: User, member: Member, unit: BargainingUnit | None) -> Member:
    """Move a member to another bargaining unit of their local (or to none), closing the old period.

    The caller checked `manage_members`, or it is the member themselves.
    """
    from django.utils import timezone

    member = Member.objects.select_for_update().get(pk=member.pk)
    if unit is not None and unit.local_id != member.local_id:
        raise MembershipError(ERR_UNIT_LOCAL)
    if member.unit_id == (unit.pk if unit else None):
        return member
    now = timezone.now()
    UnitHistory.objects.filter(member=member, ended_at__isnull=True).update(ended_at=now)
    previous = member.unit_id
    member.unit = unit
    with tally_tracked(member):
        member.save(update_fields=["unit"])
    if unit is not None:
        UnitHistory.objects.create(member=member, unit=unit, started_at=now)
    audit_record(actor, "member.unit", member, local_id=member.local_id, previous_unit=previous,
                 unit=unit.pk if unit else None)
    return member


@transaction.atomic
def member_set_notes(*, actor: User, member: Member, notes: str) -> Member:
    """Replace the organizers' notes on a member (encrypted; the audit records only that they changed).

    The caller checked `manage_members`.
    """
    member = Member.objects.select_for_update(of=("self",)).get(pk=member.pk)
    member.notes = notes.strip() or None
    member.save(update_fields=["notes"])
    audit_record(actor, "member.notes", member, local_id=member.local_id, length=len(notes.strip()))
    return member


def member_record_view(*, actor: User, member: Member) -> None:
    """Record that an officer saw a member's decrypted details. The caller checked `view_roll`."""
    audit_record(actor, "member.view", member, local_id=member.local_id)
