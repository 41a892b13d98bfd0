"""Writes with side effects on users and roles. Callers check access first (permissions.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy

from membership.lifecycle import apply_local_rights
from membership.models import (
    BargainingUnit,
    CardText,
    Invitation,
    Local,
    Member,
    MemberStatusChange,
    RoleGrant,
    Union,
    UnionCard,
    UnitHistory,
    User,
    new_session_nonce,
)
from membership.roles import Role
from union.audit import audit_record
from union.realtime import broadcast_on_commit, recheck_sockets_on_commit, user_group


def _apply_role_permissions(user: User, local: Local, role: str | None) -> None:
    # The role is already written (or deleted); what it gives depends on the membership status too.
    apply_local_rights(user, local)


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
    """End every session of `user` on every device, and close their open sockets.

    `reason` is a fixed code from the code ("user request", "deactivated"), never typed text: it
    is written into the audit log as the record's `cause`.
    """
    User.objects.filter(pk=user.pk).update(session_nonce=new_session_nonce())
    user.refresh_from_db(fields=["session_nonce"])
    audit_record(actor, "user.sessions_ended", user, cause=reason)
    broadcast_on_commit(user_group(user.pk), {"type": "session.end"})


@transaction.atomic
def user_deactivate(*, actor: User | None, user: User, reason: str) -> None:
    """Deactivate an account: it cannot log in and all of its sessions end now.

    The reason may be typed by an operator, so it is kept encrypted on the account
    (`User.deactivation_reason`); the audit record names the account only.
    """
    user.is_active, user.deactivation_reason = False, (reason or "").strip()[:500] or None
    user.save(update_fields=["is_active", "deactivation_reason"])
    audit_record(actor, "user.deactivate", user)
    user_end_sessions(actor=actor, user=user, reason="deactivated")


# ---------------------------------------------------------------------------------------------
# Joining, cards, invitations, verification and the status lifecycle.
# ---------------------------------------------------------------------------------------------

ERR_DUPLICATE = "duplicate"
ERR_TRANSITION = gettext_lazy("This change of status is not allowed: %(current)s cannot become %(new)s.")
ERR_REASON = gettext_lazy("Give a reason (it is kept encrypted with the member's record).")
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
    consents: dict[str, Any],
    invitation: Invitation | None = None,
    confirmed: bool = True,
    email_index: str | None = None,
    duplicates_checked: bool = False,
) -> Member:
    """A worker joins: an account, a pending member, and a signed union card, all at once.

    With `confirmed=False` (the public join form) the account is created inactive and the member
    stays an applicant until `member_confirm_email` proves they own the email address.

    Raises DuplicateSignup when the email or phone has already signed in this union; the view
    must answer in a way that does not confirm anyone's membership to the visitor. A caller that
    has indexed the email and looked for duplicates already (`join_submit`) passes `email_index`
    and `duplicates_checked=True`, so neither is done twice; the unique indexes still decide a race.
    """
    from django.utils import timezone

    email = email.strip()
    probe = Member(union=union)
    probe.set_email(email, index=email_index)
    probe.set_phone(phone)
    if not duplicates_checked:
        clash = models.Q(pk__in=[])
        if probe.email_index:
            clash |= models.Q(email_index=probe.email_index)
        if probe.phone_index:
            clash |= models.Q(phone_index=probe.phone_index)
        if Member.objects.filter(union=union).filter(clash).exists():
            raise DuplicateSignup(ERR_DUPLICATE)
    user = User.objects.create_user(
        handle, password, email=email, email_index=probe.email_index,
        language=languages[0] if languages else "en", is_active=confirmed,
        confirm_by=None if confirmed else timezone.now() + timedelta(seconds=JOIN_CONFIRM_MAX_AGE),
    )
    member = Member(
        union=union, local=local, unit=unit, user=user, pseudonym=pseudonym, legal_name=legal_name,
        status=Member.Status.APPLICANT, invited_by=invitation.inviter if invitation else None,
        email=probe.email, email_index=probe.email_index, phone=probe.phone, phone_index=probe.phone_index,
    )
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
            raise MembershipError(gettext_lazy("This invitation has already been used."))
    role_grant(actor=None, user=user, local=local, role=Role.MEMBER)
    audit_record(user, "member.join", member, local_id=local.pk, invited=invitation is not None)
    card_sign(member=member, card_text=card_text, signature_name=legal_name, consents=consents,
              advance_status=confirmed)
    return member


@transaction.atomic
def card_sign(*, member: Member, card_text: CardText, signature_name: str, consents: dict[str, Any],
              advance_status: bool = True) -> UnionCard:
    """Sign the card: the text, typed name, consents and time are kept together, encrypted.

    `advance_status=False` keeps an applicant an applicant (their email is not confirmed yet).
    """
    from django.utils import timezone

    now = timezone.now()
    card = UnionCard.objects.create(
        member=member, card_text=card_text, signed_at=now,
        signed={"title": card_text.title, "body": card_text.body, "version": card_text.version,
                "language": card_text.language, "signature": signature_name, "consents": consents,
                "signed_at": now.isoformat()},
    )
    if advance_status and member.status in (Member.Status.APPLICANT, Member.Status.RESIGNED,
                                            Member.Status.REJECTED):
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
        raise MembershipError(ERR_TRANSITION % {
            "current": Member.Status(current).label, "new": Member.Status(new).label})
    member.status, member.status_changed_at = new, timezone.now()
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
    if member.user_id is not None:
        # Same transaction: a suspended, resigned or rejected officer loses every right at once.
        apply_local_rights(member.user, member.local)
        broadcast_on_commit(user_group(member.user_id), {"type": "roles.changed"})
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


# ---------------------------------------------------------------------------------------------
# The roll: dues, CSV import and export. Callers check access (membership.roll.access_roll_*).
# ---------------------------------------------------------------------------------------------

ERR_IMPORT_REJECTED = gettext_lazy("Some rows were rejected; nothing was imported.")
ERR_IMPORT_CLASH = gettext_lazy("Someone with one of these emails or phones joined meanwhile; nothing was imported.")


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


@transaction.atomic
def roll_import(*, actor: User, local: Local, rows: list, valid_only: bool = False) -> list[Member]:
    """Create members without accounts from checked import rows (`membership.roll.ImportRow`).

    All or nothing: any rejected row raises MembershipError unless `valid_only`, and a unique
    index clash (someone joined between the preview and now) rolls everything back. The audit
    record holds counts only. The caller checked `manage_members` on `local`.
    """
    from datetime import date

    from django.db import IntegrityError

    from membership.names import pseudonym_key

    rejected = [r for r in rows if r.errors]
    if rejected and not valid_only:
        raise MembershipError(ERR_IMPORT_REJECTED)
    members = []
    for row in rows:
        if row.errors:
            continue
        member = Member(
            union_id=local.union_id, local=local, unit=row.unit, pseudonym=row.pseudonym,
            legal_name=row.legal_name or None, job_title=row.job_title, status=row.status, dues=row.dues,
            dues_last_paid=date.fromisoformat(row.dues_last_paid) if row.dues_last_paid else None,
        )
        member.set_email(row.email)
        member.set_phone(row.phone)
        member.set_languages(row.languages)
        member.pseudonym_key = pseudonym_key(row.pseudonym)  # bulk_create does not call save()
        members.append(member)
    try:
        with transaction.atomic():
            Member.objects.bulk_create(members, batch_size=1000)
    except IntegrityError:
        raise MembershipError(ERR_IMPORT_CLASH) from None
    # Primary keys come back from bulk_create on PostgreSQL and SQLite (3.35+).
    UnitHistory.objects.bulk_create(
        [UnitHistory(member=m, unit=m.unit) for m in members if m.unit is not None], batch_size=1000
    )
    audit_record(actor, "roll.import", local, local_id=local.pk, imported=len(members), skipped=len(rejected))
    return members


def roll_export_record(*, actor: User, local: Local, rows: int, alert_rows: int) -> bool:
    """Audit an export of the roll; above `alert_rows` rows, alert the local's admins too.

    Returns whether the admins were alerted. Admins are whoever holds manage_roles or view_audit
    on the local; the alert says how many rows and who, never whose data.
    """
    from django.urls import reverse
    from django.utils import translation
    from django.utils.translation import ngettext
    from guardian.shortcuts import get_users_with_perms

    from union.realtime import notify_users

    large = rows > alert_rows
    audit_record(actor, "roll.export", local, local_id=local.pk, rows=rows, large=large)
    if not large:
        return False
    admins = [
        u for u in get_users_with_perms(local, only_with_perms_in=["manage_roles", "view_audit"], with_group_users=False)
        if u.is_active
    ]
    texts = {}
    for admin in admins:
        with translation.override(admin.language or "en"):
            texts[admin.pk] = ngettext("%(who)s exported %(rows)s row of the roll. Check the audit log.",
                                       "%(who)s exported %(rows)s rows of the roll. Check the audit log.", rows) % {
                "who": actor.get_username(), "rows": rows}
    notify_users(texts, kind="roll.export", text=texts, url=reverse("audit_log"))
    audit_record(actor, "roll.export_alert", local, local_id=local.pk, rows=rows, alerted=len(admins))
    return True


# ---------------------------------------------------------------------------------------------
# Joining from the public form: duplicate sign-ups and email confirmation.
#
# Whatever happens here, the visitor sees the same "check your email" page, so the form cannot
# be used to learn whether someone has signed. What differs goes only to the owner of the email
# address: a confirmation link for a new sign-up, a "you have already signed" nudge otherwise.
# ---------------------------------------------------------------------------------------------

JOIN_CONFIRM_SALT = "tessera.join.confirm"
JOIN_CONFIRM_MAX_AGE = 3 * 24 * 3600


def join_confirm_token(member: Member) -> str:
    """A signed, expiring token naming the member; it proves ownership of the email it is sent to."""
    from django.core import signing

    return signing.dumps({"m": str(member.code)}, salt=JOIN_CONFIRM_SALT, compress=True)


def join_unconfirmed_member(token: str) -> Member | None:
    """The applicant this confirmation token names, if it is valid, fresh and not used yet."""
    from django.core import signing

    try:
        payload = signing.loads(token, salt=JOIN_CONFIRM_SALT, max_age=JOIN_CONFIRM_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a subclass
        return None
    code = payload.get("m") if isinstance(payload, dict) else None
    return (
        Member.objects.filter(code=code, status=Member.Status.APPLICANT, user__is_active=False)
        .select_related("user", "union").first()
        if isinstance(code, str) and len(code) == 36 else None
    )


def _send_join_email(*, email: str, language: str, member: Member | None) -> None:
    """After commit: a confirmation link for an unconfirmed applicant, else "you already signed"."""
    from union import emails

    if (member is not None and member.user is not None and member.status == Member.Status.APPLICANT
            and not member.user.is_active):
        token = join_confirm_token(member)
        transaction.on_commit(lambda: emails.join_confirm(email=email, language=language, token=token))
    else:
        transaction.on_commit(lambda: emails.join_already_signed(email=email, language=language))


ERR_HANDLE_RACE = gettext_lazy("This handle is taken. Choose another one.")


class HandleTaken(MembershipError):
    """A simultaneous sign-up took the handle between the form's check and this write."""


def _lock_email(email_index: str) -> None:
    """Sign-ups with one address, one at a time, until the transaction ends.

    Simultaneous sign-ups with one address otherwise all pass the duplicate check, then wait on
    each other's unique index entries while holding the audit chain's lock: PostgreSQL found
    deadlocks. A transaction-scoped advisory lock keyed on the blind index (no address in clear)
    makes the second one see the first one's committed rows instead. SQLite needs none: its
    transactions are IMMEDIATE here, one writer at a time.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(email_index[:15], 16)])


def _email_signed(union: Union, email_index: str) -> tuple[Member | None, bool]:
    """The union's member with this email (or None), and whether the email is taken at all.

    The account's email is unique across the platform, the member's within the union.
    """
    row = Member.objects.filter(union=union, email_index=email_index).select_related("user").first()
    if row is not None:
        return row, True
    return None, User.objects.filter(email_index=email_index).exists()


def pseudonym_clashes(*, union: Union, pseudonym: str, exclude: Member | None = None) -> bool:
    """Whether a confirmed member of the union has a pseudonym a reader could take for this one.

    Unconfirmed applicants do not count: a bot's sign-up that nobody confirms reserves nothing.
    """
    from membership.names import pseudonym_key

    others = Member.objects.filter(union=union, pseudonym_key=pseudonym_key(pseudonym), erased_at__isnull=True)
    others = others.exclude(status=Member.Status.APPLICANT)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    return others.exists()


@transaction.atomic
def join_submit(
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
    consents: dict[str, Any],
    language: str,
    invitation: Invitation | None = None,
) -> Member | None:
    """The public join form was submitted (and validated). Returns the new applicant, or None.

    New email: an inactive account, an applicant and the signed card are stored, and a
    confirmation link goes to the address. Email already known (a member of this union, or any
    account): nothing about the person is created and the address's owner is told they have
    already signed. In both cases the invitation is used up and the handle taken, so a second
    try cannot tell the two apart. A phone number already on this union's roll is dropped from
    the new application (and flagged to the organizers in the audit log) rather than refused,
    for the same reason. The caller renders the same page whatever this returns.

    The email is indexed once and looked up once. Simultaneous sign-ups with one address (six
    browsers, or a script) race to the unique indexes: the first commits, the others land on the
    duplicate path inside a savepoint, so every one of them gets the same page and one account
    exists (see `_lock_email`). Raises HandleTaken only when another address took the same handle
    in that instant.
    """
    from django.db import IntegrityError

    from union.crypto import blind_index

    email = email.strip()
    email_index = blind_index(email, purpose="email")
    _lock_email(email_index)
    existing, taken = _email_signed(union, email_index)
    probe = Member(union=union)
    probe.set_phone(phone)
    phone_clash = bool(probe.phone_index) and Member.objects.filter(
        union=union, phone_index=probe.phone_index).exists()
    signup: dict[str, Any] = {
        "union": union, "local": local, "unit": unit, "handle": handle, "password": password,
        "pseudonym": pseudonym, "legal_name": legal_name, "phone": "" if phone_clash else phone,
        "languages": languages, "card_text": card_text, "consents": consents, "invitation": invitation,
        "confirmed": False, "duplicates_checked": True,
    }
    for attempt in ("as typed", "without the phone"):
        if taken:
            break
        try:
            with transaction.atomic():
                member = member_join(email=email, email_index=email_index, **signup)  # type: ignore[arg-type]
                User.objects.filter(pk=member.user_id).update(language=language)
        except (IntegrityError, ValidationError):
            # A simultaneous sign-up committed first: the unique index made us wait for it (or
            # full_clean saw its handle). Which one it was decides the answer.
            existing, taken = _email_signed(union, email_index)
            if taken:
                break
            if attempt == "without the phone" or User.objects.filter(handle=handle.strip().lower()).exists():
                raise HandleTaken(ERR_HANDLE_RACE) from None
            # Someone else's sign-up took the phone: dropped, as a known phone is.
            phone_clash, signup["phone"] = True, ""
            continue
        else:
            if phone_clash:
                audit_record(None, "join.phone_clash", member, local_id=local.pk)
            _send_join_email(email=email, language=language, member=member)
            return member
    _rehearse_join(signup, language=language)
    _join_duplicate(local=local, existing=existing, handle=handle, email=email, language=language,
                    invitation=invitation)
    return None


class _Rehearsal(Exception):
    """Raised to roll a rehearsed sign-up back."""


def _rehearse_join(signup: dict[str, Any], *, language: str) -> None:
    """Run the real sign-up under a throwaway address, then roll it back: nothing is kept.

    A known address must cost what a new one costs, or the answer's timing tells the visitor
    that the address has signed. Measured before this: 75 queries against 23 (about 85 ms on
    PostgreSQL, beside ~800 ms of Argon2 that both paths pay). The rehearsal runs the same
    code (the password hash, the member, card, role and audit rows), in a savepoint that is
    rolled back; events queued in it are dropped with it.
    """
    import secrets

    from django.db import IntegrityError

    from union.crypto import blind_index

    email = f"rehearsal-{secrets.token_hex(8)}@rehearsal.invalid"
    try:
        with transaction.atomic():
            member = member_join(email=email, email_index=blind_index(email, purpose="email"),
                                 **signup)  # type: ignore[arg-type]
            User.objects.filter(pk=member.user_id).update(language=language)
            raise _Rehearsal
    except (_Rehearsal, IntegrityError, ValidationError, MembershipError):
        pass  # rolled back, as intended, or a simultaneous sign-up took the handle: same cost paid


def _join_duplicate(*, local: Local, existing: Member | None, handle: str, email: str, language: str,
                    invitation: Invitation | None) -> None:
    from django.utils import timezone

    _reserve_handle(handle=handle, language=language)
    if invitation is not None:
        Invitation.objects.filter(pk=invitation.pk, used_at__isnull=True).update(used_at=timezone.now())
    if existing is not None and existing.user is not None and not existing.user.is_active:
        # A fresh link goes out: the unconfirmed account lives as long as the newest link.
        User.objects.filter(pk=existing.user_id, is_active=False).update(
            confirm_by=timezone.now() + timedelta(seconds=JOIN_CONFIRM_MAX_AGE))
    audit_record(None, "join.duplicate", existing, local_id=existing.local_id if existing else local.pk,
                 invited=invitation is not None)
    _send_join_email(email=email, language=language, member=existing)


def _reserve_handle(*, handle: str, language: str) -> User | None:
    """An inactive account with no email and no usable password: it only keeps the handle taken.

    It expires with the link a real sign-up would have had (`join_cleanup` frees the handle). None
    when a simultaneous sign-up took the same handle: it is taken either way.
    """
    from django.db import IntegrityError
    from django.utils import timezone

    user = User(handle=handle.strip().lower(), language=language, is_active=False,
                confirm_by=timezone.now() + timedelta(seconds=JOIN_CONFIRM_MAX_AGE))
    user.set_unusable_password()
    user.full_clean(exclude=["password", "handle"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        return None
    return user


@transaction.atomic
def member_confirm_email(*, member: Member) -> Member:
    """The applicant opened the link sent to their email: the account works and the card counts.

    The caller found the member through `join_unconfirmed_member` (a valid signed token). If a
    member confirmed meanwhile under a pseudonym a reader could take for this one, this one gets a
    numbered variant (the member can change it on their page): whoever confirms first keeps it.
    """
    import secrets

    member = Member.objects.select_for_update(of=("self",)).select_related("user").get(pk=member.pk)
    if member.status != Member.Status.APPLICANT or member.user is None or member.user.is_active:
        raise MembershipError(gettext_lazy("This confirmation link has already been used."))
    User.objects.filter(pk=member.user_id).update(is_active=True, confirm_by=None)
    member.user.is_active = True
    audit_record(member.user, "member.email_confirmed", member, local_id=member.local_id)
    if pseudonym_clashes(union=member.union, pseudonym=member.pseudonym, exclude=member):
        member.pseudonym = f"{member.pseudonym[:72]} {secrets.randbelow(9000) + 1000}"
        member.save(update_fields=["pseudonym"])
        audit_record(member.user, "member.pseudonym_renamed", member, local_id=member.local_id,
                     cause="too_close_to_a_member")
    _set_status(actor=member.user, member=member, new=Member.Status.PENDING, reason="email confirmed")
    return member


def join_ceiling_alert(*, union: Union, per: str, limit: int) -> int:
    """Tell the union's organizers and local admins that the public join form paused. Returns how many.

    Sent once per window by `membership.throttle.union_allowed`. The text says what happened and
    what to do, never who tried to join.
    """
    from django.urls import reverse
    from django.utils import translation
    from django.utils.translation import gettext
    from guardian.shortcuts import get_users_with_perms

    from union import emails
    from union.realtime import notify_user

    people: dict[int, User] = {}
    locals_ = list(union.locals.all())
    for local in locals_:
        for user in get_users_with_perms(local, only_with_perms_in=["verify_members", "manage_roles"],
                                         with_group_users=False):
            if user.is_active:
                people[user.pk] = user
    for user in people.values():
        with translation.override(user.language or "en"):
            text = (gettext("More sign-ups than usual: the public join form is paused for the rest of the day. "
                            "Invitation links still work.") if per == "day" else
                    gettext("More sign-ups than usual: the public join form is paused for the rest of the hour. "
                            "Invitation links still work."))
        notify_user(user.pk, kind="join.ceiling", text=text, url=reverse("audit_log"))
        transaction.on_commit(lambda u=user: emails.account_news(u))
    for local in locals_:
        audit_record(None, "join.ceiling", union, local_id=local.pk, per=per, limit=limit, alerted=len(people))
    return len(people)


@transaction.atomic
def join_cleanup(*, now: Any = None) -> int:
    """Delete accounts whose confirmation link has expired, with their applicant record and card.

    What goes: sign-ups never confirmed and handle reservations, past `User.confirm_by`. Their
    handles become free again. Returns how many accounts were deleted; the audit keeps the count.
    """
    from django.utils import timezone

    now = now or timezone.now()
    expired = User.objects.filter(is_active=False, confirm_by__lt=now)
    ids = list(expired.values_list("pk", flat=True))
    if not ids:
        return 0
    applicants = Member.objects.filter(user_id__in=ids, status=Member.Status.APPLICANT)
    removed = applicants.count()
    applicants.delete()
    User.objects.filter(pk__in=ids).delete()
    audit_record(None, "join.cleanup", None, accounts=len(ids), applicants=removed)
    return len(ids)


# ---------------------------------------------------------------------------------------------
# Where a member works: membership survives a change of employer, and the history is kept.
# ---------------------------------------------------------------------------------------------

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


def user_password_changed(*, user: User) -> None:
    audit_record(user, "user.password_change", user)
    # Other sessions no longer match the new password's hash: their sockets close on this event.
    recheck_sockets_on_commit(user.pk)


def two_factor_start(*, user: User) -> Any:
    """A new, unconfirmed authenticator for `user` to enrol (its key is encrypted at rest)."""
    from membership.devices import Authenticator

    return Authenticator.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def two_factor_confirm(*, user: User, device: Any, backup_codes: int = 10) -> list[str]:
    """Confirm a verified TOTP device, drop other pending ones, and issue fresh backup codes.

    The codes are returned once, to be shown once; only their keyed hashes are stored.
    """
    from membership.devices import Authenticator, BackupCodeDevice

    device.confirmed = True
    device.save(update_fields=["confirmed"])
    Authenticator.objects.filter(user=user, confirmed=False).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
    backup = BackupCodeDevice.objects.create(user=user, name="backup codes", confirmed=True)
    codes = backup.issue(backup_codes)
    audit_record(user, "user.two_factor_enrolled", user)
    return codes
