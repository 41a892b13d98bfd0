"""Invitations, joining, email confirmation and the limits on sign-ups. Callers check access first."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy

from membership.models import (
    BargainingUnit,
    CardText,
    Invitation,
    Local,
    Member,
    Union,
    UnionCard,
    UnitHistory,
    User,
)
from membership.roles import Role
from membership.services.accounts import role_grant
from membership.services.cards import card_sign
from membership.services.errors import ERR_DUPLICATE, DuplicateSignup, MembershipError
from membership.services.members import _set_status
from membership.tally import latest_level, signatures_adjust, support_adjust
from union.audit import audit_record

INVITATION_DAYS = 14


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
                member = member_join(email=email, email_index=email_index, **signup)
                assert member.user_id is not None, "member_join always creates the account"
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
            member = member_join(email=email, email_index=blind_index(email, purpose="email"), **signup)
            assert member.user_id is not None, "member_join always creates the account"
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
        User.objects.filter(pk=existing.user.pk, is_active=False).update(
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
    User.objects.filter(pk=member.user.pk).update(is_active=True, confirm_by=None)
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
        # guardian annotates the result as `Any | list[str]`; without attach_perms it is a queryset of users.
        for user in cast("models.QuerySet[User]", get_users_with_perms(
                local, only_with_perms_in=["verify_members", "manage_roles"], with_group_users=False)):
            if user.is_active:
                people[user.pk] = user
    for user in people.values():
        with translation.override(user.language or "en"):
            text = (gettext("More sign-ups than usual: the public join form is paused for the rest of the day. "
                            "Invitation links still work.") if per == "day" else
                    gettext("More sign-ups than usual: the public join form is paused for the rest of the hour. "
                            "Invitation links still work."))
        notify_user(user.pk, kind="join.ceiling", text=text, url=reverse("audit_log"))
        transaction.on_commit(partial(emails.account_news, user))
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
    # Their valid cards (signed before confirming) leave the weekly chart's tally with them.
    for local_id, signed_at in UnionCard.objects.filter(member__in=applicants, revoked_at__isnull=True).values_list(
            "member__local_id", "signed_at"):
        signatures_adjust(local_id, signed_at, -1)
    for applicant in applicants:  # and their latest support level leaves the support tally
        level = latest_level(applicant.pk)
        if level is not None:
            support_adjust(applicant.local_id, level, -1)
    applicants.delete()
    User.objects.filter(pk__in=ids).delete()
    audit_record(None, "join.cleanup", None, accounts=len(ids), applicants=removed)
    return len(ids)
