"""A member's own writes: profile and contact details, export of their data, resigning, erasure.

Callers pass the member linked to the logged-in account (`request.user.member`); these services
do not check that themselves. Audit details name what changed, never the values.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from membership.cards import card_documents_destroy
from membership.lifecycle import can_move
from membership.models import Member, MemberStatusChange, RoleGrant, SupportAssessment, UnionCard, User
from membership.names import ERR_PSEUDONYM_CLOSE
from membership.roles import Role
from membership.services import MembershipError, role_grant, role_revoke, user_deactivate
from membership.services.members import _set_status
from membership.tally import signatures_adjust, tally_tracked
from union import crypto
from union.audit import audit_record

# Neutral on purpose: it must not confirm that the address belongs to someone else in the union.
ERR_CONTACT_UNAVAILABLE = gettext_noop(
    "This email address or phone number cannot be used. Check it, or ask an organizer for help.")
ERR_ALREADY_RESIGNED = gettext_noop("You have already resigned.")
ERR_EMAIL_LINK = gettext_noop("This link has expired or was already used.")
ERASED_PSEUDONYM = "erased member"
RESIGN_REASON = "resigned by member"
EXPORT_FORMAT = "tessera-member-export/1"
EMAIL_CHANGE_SALT = "tessera.me.email"
EMAIL_CHANGE_MAX_AGE = 3 * 24 * 3600


class ContactUnavailable(MembershipError):
    """The email or phone is already on another record (of the union, or another account)."""


class PseudonymTooClose(MembershipError):
    """The new pseudonym is one a reader could take for another member's."""


@dataclass
class ProfileUpdate:
    member: Member
    # A message went to a new email address: a link, or "this address has an account already".
    email_sent: bool


def _email_taken(member: Member, email_index: str) -> bool:
    # The account's email is unique across the whole platform (it finds the account at login).
    accounts = User.objects.filter(email_index=email_index)
    if member.user_id is not None:
        accounts = accounts.exclude(pk=member.user_id)
    return (Member.objects.filter(union_id=member.union_id, email_index=email_index).exclude(pk=member.pk).exists()
            or accounts.exists())


def _phone_taken(member: Member, phone_index: str) -> bool:
    return Member.objects.filter(union_id=member.union_id, phone_index=phone_index).exclude(pk=member.pk).exists()


def email_change_token(member: Member, email_index: str) -> str:
    """Names the member and the address asked for; opening it proves the new address is theirs."""
    return signing.dumps({"m": str(member.code), "e": email_index[:24]}, salt=EMAIL_CHANGE_SALT, compress=True)


@transaction.atomic
def member_update_profile(
    *, actor: User, member: Member, pseudonym: str, languages: list[str], email: str, phone: str, ui_language: str
) -> ProfileUpdate:
    """Update the member's own profile. The caller passes the logged-in account's own member.

    The answer never says whether an address or number is someone else's:

    - A new email takes effect only when the member opens the link sent to it (as at joining).
      If the address already belongs to another member of the union or to any account, no link
      goes out: its owner is told that nothing changed. Either way the page says "we sent a
      message to the new address". Clearing the email takes effect at once.
    - A new phone already on another member's record in the union is not stored (numbers cannot
      be confirmed by a message here); the organizers see the clash in the audit log and the page
      says "saved", as for any other number.

    Raises PseudonymTooClose for a new pseudonym a reader could take for a member's (that is the
    point of refusing it, not a secret).
    """
    from membership.services import pseudonym_clashes

    member = Member.objects.select_for_update(of=("self",)).select_related("user").get(pk=member.pk)
    before = {f: getattr(member, f) for f in ("pseudonym", "languages", "email_index", "phone_index")}
    member.pseudonym = pseudonym.strip()
    if member.pseudonym != before["pseudonym"] and pseudonym_clashes(
            union=member.union, pseudonym=member.pseudonym, exclude=member):
        raise PseudonymTooClose(ERR_PSEUDONYM_CLOSE)
    member.set_languages(languages)
    email = email.strip()
    email_sent = False
    if not email:
        member.set_email(None)
        member.pending_email = None
    else:
        index = crypto.blind_index(email, purpose="email")
        if index == member.email_index:
            member.pending_email = None
        else:
            email_sent = True
            member.pending_email = email
            _send_email_change(member, email=email, index=index, language=ui_language,
                               taken=_email_taken(member, index))
    phone_before = (member.phone, member.phone_index)
    member.set_phone(phone)
    phone_clash = bool(member.phone_index) and member.phone_index != before["phone_index"] and _phone_taken(
        member, member.phone_index or "")
    if phone_clash:
        member.phone, member.phone_index = phone_before
        audit_record(actor, "member.phone_clash", member, local_id=member.local_id)
    changed = [f.replace("_index", "") for f, value in before.items() if getattr(member, f) != value]
    member.full_clean(exclude=["user", "invited_by", "unit"])
    user = member.user
    if user is not None and user.language != ui_language:
        changed.append("ui_language")
    try:
        with transaction.atomic():
            member.save()
            if user is not None:
                user.set_email(member.email, index=member.email_index)
                user.language = ui_language
                user.save(update_fields=["email", "email_index", "language"])
    except IntegrityError:
        # A concurrent change took the number between our check and the write.
        raise ContactUnavailable(ERR_CONTACT_UNAVAILABLE) from None
    if changed:
        audit_record(actor, "member.self_update", member, local_id=member.local_id, changed=sorted(changed))
    if email_sent:
        audit_record(actor, "member.email_change_requested", member, local_id=member.local_id)
    return ProfileUpdate(member=member, email_sent=email_sent)


def _send_email_change(member: Member, *, email: str, index: str, language: str, taken: bool) -> None:
    from union import emails

    if taken:
        transaction.on_commit(lambda: emails.email_change_taken(email=email, language=language))
    else:
        token = email_change_token(member, index)
        transaction.on_commit(lambda: emails.email_change_confirm(email=email, language=language, token=token))


def email_change_member(token: str) -> Member | None:
    """The member whose pending address this link confirms, if the link is valid, fresh and current."""
    try:
        payload = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a subclass
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("m"), str) or len(payload["m"]) != 36:
        return None
    member = Member.objects.filter(code=payload["m"], erased_at__isnull=True, pending_email__isnull=False).first()
    if member is None or not member.pending_email:
        return None
    index = crypto.blind_index(member.pending_email, purpose="email")
    return member if hmac.compare_digest(index[:24], str(payload.get("e", ""))) else None


@transaction.atomic
def member_confirm_new_email(*, member: Member) -> Member:
    """The link sent to the new address was opened: the member's and the account's email change.

    The caller found the member with `email_change_member`. Whoever opens it owns the address, so
    telling them it is taken (ContactUnavailable) reveals nothing they could not learn by logging in.
    """
    member = Member.objects.select_for_update(of=("self",)).select_related("user").get(pk=member.pk)
    if not member.pending_email:
        raise MembershipError(ERR_EMAIL_LINK)
    email = member.pending_email
    index = crypto.blind_index(email, purpose="email")
    if _email_taken(member, index):
        raise ContactUnavailable(ERR_CONTACT_UNAVAILABLE)
    member.set_email(email, index=index)
    member.pending_email = None
    try:
        with transaction.atomic():
            member.save(update_fields=["email", "email_index", "pending_email"])
            if member.user is not None:
                member.user.set_email(email, index=index)
                member.user.save(update_fields=["email", "email_index"])
    except IntegrityError:
        raise ContactUnavailable(ERR_CONTACT_UNAVAILABLE) from None
    audit_record(member.user, "member.email_changed", member, local_id=member.local_id)
    return member


@transaction.atomic
def member_resign(*, actor: User, member: Member) -> Member:
    """The member leaves the union. Officer roles go with membership: they keep only the member role."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status == Member.Status.RESIGNED:
        raise MembershipError(ERR_ALREADY_RESIGNED)
    _set_status(actor=actor, member=member, new=Member.Status.RESIGNED, reason=RESIGN_REASON)
    if member.user_id is not None:
        grant = RoleGrant.objects.filter(user_id=member.user_id, local_id=member.local_id).first()
        if grant is not None and grant.role != Role.MEMBER and member.user is not None:
            role_grant(actor=actor, user=member.user, local=member.local, role=Role.MEMBER)
    return member


def member_export(*, actor: User, member: Member) -> dict[str, Any]:
    """Everything the platform holds about the member, decrypted, as plain JSON-ready data.

    Decision: organizers' support assessments and notes about the member ARE included. They are
    the union's working notes, but they are personal data about this person (opinions about them
    count), and the right of access in data-protection law (GDPR art. 15, the Kenyan Data Protection
    Act s. 26, the Philippine Data Privacy Act) covers them; a union that keeps files on its own
    members should be able to show them. Who recorded an assessment is left out: that is another
    person's data. The audit log is not included: it records what accounts did, is shared by
    everyone, and holds no personal data by design.
    """
    member = Member.objects.select_related("union", "local", "unit", "user", "invited_by").get(pk=member.pk)
    user = member.user

    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "account": None if user is None else {
            "handle": user.handle, "email": user.email, "language": user.language,
            "date_joined": when(user.date_joined), "last_login": when(user.last_login),
            "roles": [{"local": g.local.name, "role": g.role, "granted_at": when(g.granted_at)}
                      for g in user.role_grants.select_related("local")],
        },
        "member": {
            "code": str(member.code), "union": member.union.name, "local": member.local.name,
            "unit": str(member.unit) if member.unit else None, "pseudonym": member.pseudonym,
            "legal_name": member.legal_name, "email": member.email, "pending_email": member.pending_email,
            "phone": member.phone,
            "organizer_notes": member.notes, "languages": member.language_list, "job_title": member.job_title,
            "status": member.status, "status_changed_at": when(member.status_changed_at),
            "dues": member.dues, "dues_last_paid": when(member.dues_last_paid),
            "joined_at": when(member.joined_at), "verified_at": when(member.verified_at),
            "invited_by": member.invited_by.pseudonym if member.invited_by else None,
        },
        "unit_history": [
            {"unit": str(h.unit), "started_at": when(h.started_at), "ended_at": when(h.ended_at)}
            for h in member.unit_history.select_related("unit__employer", "unit__client")
        ],
        "cards": [
            {"code": str(c.code), "signed_at": when(c.signed_at), "revoked_at": when(c.revoked_at), "signed": c.signed}
            for c in member.cards.all()
        ],
        # Reasons organizers gave for changing the member's status are data about them too.
        "status_changes": [
            {"from": c.from_status, "to": c.to_status, "changed_at": when(c.changed_at), "reason": c.reason}
            for c in member.status_changes.all()
        ],
        "support_assessments": [
            {"level": a.level.value, "label": a.level.label, "recorded_at": when(a.recorded_at)}
            for a in member.assessments.select_related("level")
        ],
        "invitations_sent": [
            {"created_at": when(i.created_at), "expires_at": when(i.expires_at), "used": i.used_at is not None}
            for i in member.invitations_sent.all()
        ],
    }
    audit_record(actor, "member.export", member, local_id=member.local_id)
    return data


@transaction.atomic
def member_erase(*, actor: User | None, member: Member) -> Member:
    """Erase the member's personal data and close their account, keeping a pseudonymous record.

    The Member row stays (with `erased_at`), so grievances, ballots' "has voted" rows and the
    audit log still point at something; everything that identifies the person is removed: the
    encrypted fields and their blind indexes, the pseudonym, languages and job title, what the
    cards said (the cards stay as revoked, content-less rows), organizers' assessments, the
    reasons given for status changes (the bare moves stay), and on the account the handle,
    email, password, two-factor devices, roles and sessions. The audit log holds ids only, and
    grievance timelines name stewards by account id, so the old handle survives nowhere.
    `actor` is None for an erasure the system carries out (recorded as the system in the audit log).
    """
    from membership.devices import Authenticator, BackupCodeDevice

    member = Member.objects.select_for_update(of=("self",)).select_related("user", "local").get(pk=member.pk)
    now = timezone.now()
    user = member.user
    if user is not None:
        # Rename first, so that every record written from here on names the erased handle only.
        user.handle = f"erased-{uuid.uuid4().hex[:12]}"
        user.set_email(None)
        user.set_unusable_password()
        user.language = "en"
        user.save(update_fields=["handle", "email", "email_index", "password", "language"])
        if actor is not None and actor.pk == user.pk:
            actor = user
    # Resigned, cards revoked, erased: the member stops counting in their unit's tally.
    with tally_tracked(member):
        if member.status != Member.Status.RESIGNED and can_move(member.status, Member.Status.RESIGNED):
            _set_status(actor=actor, member=member, new=Member.Status.RESIGNED, reason="erased by member")
        for card in UnionCard.objects.select_for_update().filter(member=member):
            if card.revoked_at is None:
                signatures_adjust(member.local_id, card.signed_at, -1)
            card.signed = {"erased": True}
            card.revoked_at = card.revoked_at or now
            card.save(update_fields=["signed", "revoked_at"])
            # The stored PDFs print what the card said, the typed name included: they go too.
            card_documents_destroy(card=card)
        SupportAssessment.objects.filter(member=member).delete()
        # What organizers wrote about why the member's status changed is data about the member too.
        MemberStatusChange.objects.filter(member=member).update(reason=None)
        member.legal_name = member.notes = member.pending_email = None
        member.set_email(None)
        member.set_phone(None)
        member.set_languages([])
        member.pseudonym, member.job_title, member.erased_at = ERASED_PSEUDONYM, "", now
        member.save()
    if user is not None:
        for grant in list(RoleGrant.objects.filter(user=user).select_related("local")):
            role_revoke(actor=actor, user=user, local=grant.local)
        Authenticator.objects.filter(user=user).delete()
        BackupCodeDevice.objects.filter(user=user).delete()
        user_deactivate(actor=actor, user=user, reason="erased by member")
    audit_record(actor, "member.erase", member, local_id=member.local_id)
    return member

