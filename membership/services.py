"""Writes with side effects on users and roles. Callers check access first (permissions.py)."""

from __future__ import annotations

from django.db import models, transaction
from guardian.shortcuts import assign_perm, remove_perm

from membership.models import (
    BargainingUnit,
    CardText,
    Invitation,
    Local,
    Member,
    RoleGrant,
    Union,
    UnionCard,
    UnitHistory,
    User,
    new_session_nonce,
)
from membership.roles import ROLE_PERMISSIONS, Role
from union.audit import audit_record
from union.realtime import broadcast_on_commit, user_group


def _apply_role_permissions(user: User, local: Local, role: str | None) -> None:
    wanted = ROLE_PERMISSIONS.get(role, frozenset()) if role else frozenset()
    for codename, _desc in Local._meta.permissions:
        perm = f"membership.{codename}"
        if codename in wanted:
            assign_perm(perm, user, local)
        else:
            remove_perm(perm, user, local)


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
    """End every session of `user` on every device, and close their open sockets."""
    User.objects.filter(pk=user.pk).update(session_nonce=new_session_nonce())
    user.refresh_from_db(fields=["session_nonce"])
    audit_record(actor, "user.sessions_ended", user, reason=reason)
    broadcast_on_commit(user_group(user.pk), {"type": "session.end"})


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, reason: str) -> None:
    """Deactivate an account: it cannot log in and all of its sessions end now."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    audit_record(actor, "user.deactivate", user, reason=reason)
    user_end_sessions(actor=actor, user=user, reason="deactivated")


# ---------------------------------------------------------------------------------------------
# Joining, cards, invitations, verification and the status lifecycle.
# ---------------------------------------------------------------------------------------------

ERR_DUPLICATE = "duplicate"
ERR_TRANSITION = "This change of status is not allowed: {current} cannot become {new}."
ERR_REASON = "Give a reason (it is kept in the audit log)."
INVITATION_DAYS = 14


class MembershipError(Exception):
    """A write that must not happen; the message is safe to show to the person who tried."""


class DuplicateSignup(MembershipError):
    """Someone with this email or phone has already signed in this union."""


def _token_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, inviter: Member) -> tuple[Invitation, str]:
    """A single-use invitation from `inviter`; returns it and the raw token (shown once, never stored)."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    token = secrets.token_urlsafe(24)
    invitation = Invitation.objects.create(
        union=inviter.union, local=inviter.local, inviter=inviter, token_hash=_token_hash(token),
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    audit_record(inviter.user, "invitation.create", invitation, local_id=inviter.local_id)
    return invitation, token


def invitation_find(*, union: Union, token: str) -> Invitation | None:
    """The usable invitation for this raw token in this union, or None (unknown, used or expired)."""
    from django.utils import timezone

    return (
        Invitation.objects.filter(union=union, token_hash=_token_hash(token), used_at__isnull=True,
                                  expires_at__gt=timezone.now())
        .select_related("local", "inviter")
        .first()
    )


def current_card_text(union: Union, language: str) -> CardText | None:
    """The newest version of the card text, in `language` when it exists, else in English."""
    latest = CardText.objects.filter(union=union).order_by("-version").values_list("version", flat=True).first()
    if latest is None:
        return None
    texts = {t.language: t for t in CardText.objects.filter(union=union, version=latest)}
    return texts.get(language) or texts.get("en") or next(iter(texts.values()))


@transaction.atomic
def member_join(
    *,
    union: Union,
    local: Local,
    unit: BargainingUnit | None,
    handle: str,
    password: str,
    pseudonym: str,
    legal_name: str,
    email: str,
    phone: str,
    languages: list[str],
    card_text: CardText,
    consents: dict[str, bool],
    invitation: Invitation | None = None,
) -> Member:
    """A worker joins: an account, a pending member, and a signed union card, all at once.

    Raises DuplicateSignup when the email or phone has already signed in this union; the view
    must answer in a way that does not confirm anyone's membership to the visitor.
    """
    from django.utils import timezone

    probe = Member(union=union)
    probe.set_email(email)
    probe.set_phone(phone)
    clash = Member.objects.filter(union=union).filter(
        models.Q(email_index=probe.email_index) if probe.email_index else models.Q(pk__in=[])
    ) | Member.objects.filter(union=union).filter(
        models.Q(phone_index=probe.phone_index) if probe.phone_index else models.Q(pk__in=[])
    )
    if clash.exists():
        raise DuplicateSignup(ERR_DUPLICATE)
    user = User.objects.create_user(handle, password, email=email, language=languages[0] if languages else "en")
    member = Member(
        union=union, local=local, unit=unit, user=user, pseudonym=pseudonym, legal_name=legal_name,
        status=Member.Status.APPLICANT, invited_by=invitation.inviter if invitation else None,
    )
    member.set_email(email)
    member.set_phone(phone)
    member.set_languages(languages)
    member.full_clean(exclude=["user", "invited_by"])
    member.save()
    if unit is not None:
        UnitHistory.objects.create(member=member, unit=unit)
    if invitation is not None:
        updated = Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(
            used_at=timezone.now(), used_by=member
        )
        if not updated:
            raise MembershipError("This invitation has already been used.")
    role_grant(actor=None, user=user, local=local, role=Role.MEMBER)
    audit_record(user, "member.join", member, local_id=local.pk, invited=invitation is not None)
    card_sign(member=member, card_text=card_text, signature_name=legal_name, consents=consents)
    return member


@transaction.atomic
def card_sign(*, member: Member, card_text: CardText, signature_name: str, consents: dict[str, bool]) -> UnionCard:
    """Sign the card: the text, typed name, consents and time are kept together, encrypted."""
    from django.utils import timezone

    now = timezone.now()
    card = UnionCard.objects.create(
        member=member, card_text=card_text, signed_at=now,
        signed={"title": card_text.title, "body": card_text.body, "version": card_text.version,
                "language": card_text.language, "signature": signature_name, "consents": consents,
                "signed_at": now.isoformat()},
    )
    if member.status in (Member.Status.APPLICANT, Member.Status.RESIGNED, Member.Status.REJECTED):
        _set_status(actor=member.user, member=member, new=Member.Status.PENDING, reason="card signed")
    audit_record(member.user, "card.sign", card, local_id=member.local_id, version=card_text.version)
    return card


@transaction.atomic
def card_revoke(*, actor: User | None, card: UnionCard) -> None:
    """Revoke a signed card (the member withdraws it). The record stays, marked revoked."""
    from django.utils import timezone

    card = UnionCard.objects.select_for_update().get(pk=card.pk)
    if card.revoked_at is not None:
        return
    card.revoked_at = timezone.now()
    card.save(update_fields=["revoked_at"])
    audit_record(actor, "card.revoke", card, local_id=card.member.local_id)


def _set_status(*, actor: User | None, member: Member, new: str, reason: str) -> None:
    from django.utils import timezone

    from membership.lifecycle import can_move

    current = member.status
    if not can_move(current, new):
        raise MembershipError(ERR_TRANSITION.format(
            current=Member.Status(current).label, new=Member.Status(new).label))
    member.status, member.status_changed_at = new, timezone.now()
    fields = ["status", "status_changed_at"]
    if new == Member.Status.ACTIVE and member.verified_at is None:
        member.verified_at = member.status_changed_at
        fields.append("verified_at")
    member.save(update_fields=fields)
    audit_record(actor, "member.status", member, local_id=member.local_id, **{"from": current, "to": new},
                 reason=reason)


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
    """An organizer rejects a pending application with a reason (for the audit log, not the email)."""
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

    if member.user_id is None:
        return
    from django.utils import translation
    from django.utils.translation import gettext

    user = member.user
    with translation.override(user.language or "en"):
        text = gettext("Your membership was verified. Welcome!") if verified else gettext(
            "Your application was not accepted. An organizer can tell you why.")
    notify_user(user.pk, kind="membership.decision", text=text, url="/")
    if user.email:
        transaction.on_commit(lambda: emails.membership_decision(user, verified=verified))
