"""Users, the union and its locals, the employers and units members work in, and roles."""

from __future__ import annotations

import secrets
import uuid
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from membership.names import pseudonym_key, validate_display_text
from membership.roles import LOCAL_PERMISSIONS, Role
from membership.time_zones import time_zone_names, validate_time_zone
from union import crypto
from union.countries import country_name
from union.fields import EncryptedJSONField, EncryptedTextField

handle_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{2,39}$",
    _("Use 3 to 40 lowercase letters, digits, dots, dashes or underscores."),
)


def new_session_nonce() -> str:
    return secrets.token_hex(16)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, handle: str, password: str | None = None, *, email: str = "", email_index: str | None = None,
                    **extra: Any) -> User:
        user = self.model(handle=handle.strip().lower(), **extra)
        user.set_email(email, index=email_index)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, handle: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(handle, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(handle=(username or "").strip().lower())

    def get_by_email(self, email: str) -> User:
        return self.get(email_index=crypto.blind_index(email, purpose="email"))


class User(AbstractBaseUser, PermissionsMixin):
    """An account. The email is stored only encrypted, with a blind index for lookups."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    handle = models.CharField(_("handle"), max_length=40, unique=True, validators=[handle_validator])
    email = EncryptedTextField(_("email"), null=True, blank=True)
    email_index = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    language = models.CharField(_("language"), max_length=8, default="en")
    # Empty: the time zone of the member's local (or TESSERA_TIME_ZONE); see membership/time_zones.py.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="",
                                 validators=[validate_time_zone])
    is_active = models.BooleanField(default=True)
    # Why the account was deactivated, as given (deactivate_user --reason): encrypted, because an
    # operator may type anything, and kept here rather than in the append-only audit log.
    deactivation_reason = EncryptedTextField(null=True, blank=True, editable=False)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Mixed into the session hash: replacing it ends every session of the user at once.
    session_nonce = models.CharField(max_length=32, default=new_session_nonce, editable=False)
    # Set while the account waits for its email to be confirmed (and on handle reservations):
    # `manage.py join_cleanup` deletes it after this time, freeing the handle.
    confirm_by = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    USERNAME_FIELD = "handle"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.handle

    def set_email(self, email: str | None, *, index: str | None = None) -> None:
        """Set the email and its blind index (`index`, when the caller computed it already)."""
        email = (email or "").strip()
        self.email = email or None
        self.email_index = (index or crypto.blind_index(email, purpose="email")) if email else None

    def get_session_auth_hash(self) -> str:
        return salted_hmac(
            "tessera.session", self.password + self.session_nonce, algorithm="sha256"
        ).hexdigest()

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        # Django would accept hashes made with older SECRET_KEYs; ours mix in the nonce too.
        from django.conf import settings

        for fallback in settings.SECRET_KEY_FALLBACKS:
            yield salted_hmac(
                "tessera.session", self.password + self.session_nonce, secret=fallback, algorithm="sha256"
            ).hexdigest()


class Union(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=40, unique=True)
    # Off by default: a union organizing quietly may not want its join link on a public page.
    publish_join_link = models.BooleanField(_("publish the join link on the home page"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Local(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    union = models.ForeignKey(Union, on_delete=models.PROTECT, related_name="locals")
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=40)
    # Where the local's members work: dates and times are shown in it unless a member chooses
    # another. Empty: TESSERA_TIME_ZONE.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="",
                                 validators=[validate_time_zone])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["union", "slug"], name="local_slug_unique_in_union")]
        permissions = LOCAL_PERMISSIONS
        default_permissions = ()

    def __str__(self) -> str:
        return self.name


class Employer(models.Model):
    """An employer of record: usually the outsourcing vendor that signs the workers' contracts."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    union = models.ForeignKey(Union, on_delete=models.PROTECT, related_name="employers")
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["union", "name"], name="employer_name_unique_in_union")]

    def __str__(self) -> str:
        return self.name


class ClientPlatform(models.Model):
    """The company whose content or data the workers handle, often hidden from them."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    union = models.ForeignKey(Union, on_delete=models.PROTECT, related_name="client_platforms")
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["union", "name"], name="client_name_unique_in_union")]

    def __str__(self) -> str:
        return self.name


class BargainingUnit(models.Model):
    """Employer of record x client platform x project/queue/language x country, optional site."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    local = models.ForeignKey(Local, on_delete=models.PROTECT, related_name="units")
    employer = models.ForeignKey(Employer, on_delete=models.PROTECT, related_name="units")
    client = models.ForeignKey(ClientPlatform, on_delete=models.PROTECT, related_name="units", null=True, blank=True)
    project = models.CharField(_("project, queue or language"), max_length=200, blank=True)
    country = models.CharField(_("country code"), max_length=2)
    site = models.CharField(_("site"), max_length=200, blank=True)
    headcount = models.PositiveIntegerField(_("estimated headcount"), default=0)
    # Percent of the headcount needed for recognition; the default is a simple majority (50% + 1).
    threshold_percent = models.PositiveSmallIntegerField(
        _("recognition threshold (%)"), default=50, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    milestone_percent = models.PositiveSmallIntegerField(
        _("earlier milestone (%)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    def __str__(self) -> str:
        parts = [str(self.employer), str(self.client or ""), self.project, self.country_name]
        return " · ".join(p for p in parts if p)

    @property
    def country_name(self) -> str:
        """The country as a person reads it, in the active language ("Kenya", not "KE")."""
        return country_name(self.country)


class UnitTally(models.Model):
    """How many members of a unit count toward recognition now, kept by the services (membership/tally.py).

    A member counts when they are active or pending, not erased, in a unit, with a valid signed
    card. The organizing dashboard reads this row instead of counting tens of thousands of cards;
    every service that changes one of those facts adjusts it in the same transaction, and
    `manage.py dashboard_tally --check` recounts from the rows.
    """

    unit = models.OneToOneField(BargainingUnit, on_delete=models.CASCADE, primary_key=True, related_name="tally")
    signed = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"tally of unit {self.unit_id}: {self.signed}"


class Member(models.Model):
    """A person on a local's roll. Coworkers know them by pseudonym; the rest is encrypted.

    A member may have no account (imported from a paper roll); `user` links one when they do.
    Legal name, email, phone and organizer notes are encrypted at rest; email and phone also have
    blind indexes, unique within the union, so duplicates are caught and officers can search by
    an exact address or number.
    """

    class Status(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        PENDING = "pending", _("Pending verification")
        ACTIVE = "active", _("Active")
        LAPSED = "lapsed", _("Lapsed")
        SUSPENDED = "suspended", _("Suspended")
        RESIGNED = "resigned", _("Resigned")
        REJECTED = "rejected", _("Application rejected")

    class Dues(models.TextChoices):
        PAID_UP = "paid_up", _("Paid up")
        ARREARS = "arrears", _("In arrears")
        EXEMPT = "exempt", _("Exempt")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Always local.union; kept on the row because the unique (union, email_index) and
    # (union, phone_index) constraints that catch duplicate sign-ups need it in this table.
    union = models.ForeignKey(Union, on_delete=models.PROTECT, related_name="members")
    local = models.ForeignKey(Local, on_delete=models.PROTECT, related_name="members")
    unit = models.ForeignKey(BargainingUnit, on_delete=models.SET_NULL, null=True, blank=True, related_name="members")
    user = models.OneToOneField(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="member")
    pseudonym = models.CharField(_("pseudonym"), max_length=80, validators=[validate_display_text])
    # The pseudonym's look-alike skeleton (membership/names.py), kept by save(): a new pseudonym
    # too close to a confirmed member's is refused.
    pseudonym_key = models.CharField(max_length=80, blank=True, default="", editable=False)
    legal_name = EncryptedTextField(_("legal name"), null=True, blank=True, validators=[validate_display_text])
    email = EncryptedTextField(_("email"), null=True, blank=True)
    email_index = models.CharField(max_length=64, null=True, blank=True, editable=False)
    # A new address the member asked for on their own page; it replaces `email` only once the
    # link sent to it is opened, so the page never says whether the address was someone else's.
    pending_email = EncryptedTextField(null=True, blank=True, editable=False)
    phone = EncryptedTextField(_("phone"), null=True, blank=True)
    phone_index = models.CharField(max_length=64, null=True, blank=True, editable=False)
    notes = EncryptedTextField(_("organizer notes"), null=True, blank=True)
    # Language codes wrapped in commas (",sw,en,") so that one language filters with a LIKE.
    languages = models.CharField(_("languages"), max_length=100, blank=True, default="")
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLICANT, db_index=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    dues = models.CharField(_("dues standing"), max_length=10, choices=Dues.choices, default=Dues.ARREARS)
    dues_last_paid = models.DateField(_("last dues payment"), null=True, blank=True)
    invited_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="invitees")
    joined_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["union", "email_index"], name="member_email_unique_in_union"),
            models.UniqueConstraint(fields=["union", "phone_index"], name="member_phone_unique_in_union"),
        ]
        indexes = [
            # Roll order and keyset pages: `(pseudonym, id) > (%s, %s)` seeks these (membership/roll.py).
            models.Index(fields=["local", "pseudonym", "id"], name="member_roll_order"),
            # The same under the narrow filters (a status, a unit).
            models.Index(fields=["local", "status", "pseudonym", "id"], name="member_roll_status"),
            models.Index(fields=["local", "unit", "pseudonym", "id"], name="member_roll_unit"),
            # The dashboard counts the local's card-holding members per unit from this index alone.
            models.Index(fields=["local", "status", "unit", "id"], condition=models.Q(erased_at__isnull=True),
                         name="member_counting"),
            models.Index(fields=["union", "pseudonym_key"], name="member_pseudonym_key"),
        ]

    def __str__(self) -> str:
        return self.pseudonym

    def save(self, *args: object, **kwargs: object) -> None:
        self.pseudonym_key = pseudonym_key(self.pseudonym)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "pseudonym" in update_fields:  # type: ignore[operator]
            kwargs["update_fields"] = {*update_fields, "pseudonym_key"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def set_email(self, email: str | None, *, index: str | None = None) -> None:
        """Set the email and its blind index (`index`, when the caller computed it already)."""
        email = (email or "").strip()
        self.email = email or None
        self.email_index = (index or crypto.blind_index(email, purpose="email")) if email else None

    def set_phone(self, phone: str | None) -> None:
        phone = normalize_phone(phone or "")
        self.phone = phone or None
        self.phone_index = crypto.blind_index(phone, purpose="phone") if phone else None

    @property
    def zone(self) -> zoneinfo.ZoneInfo | None:
        """The member's time zone (their choice, else their local's), or None for the server's default.

        Documents about the member (their card) use it whoever renders them, so a PDF made outside
        a request of theirs still shows their time, never UTC.
        """
        name = (self.user.time_zone if self.user else "") or self.local.time_zone
        return zoneinfo.ZoneInfo(name) if name in time_zone_names() else None

    @property
    def owes_dues(self) -> bool:
        """Dues start with verified membership: an applicant or a rejected one owes nothing."""
        return self.status not in (self.Status.APPLICANT, self.Status.PENDING, self.Status.REJECTED)

    @property
    def dues_label(self) -> str:
        """The dues standing as shown on pages ("In arrears" would be wrong for a new applicant)."""
        return str(self.get_dues_display()) if self.owes_dues else str(_("Not due yet"))

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    def set_languages(self, codes: list[str]) -> None:
        self.languages = "," + ",".join(dict.fromkeys(codes)) + "," if codes else ""


def normalize_phone(phone: str) -> str:
    """Digits with one leading +, so "+254 700-000 000" and "+254700000000" index the same."""
    phone = phone.strip()
    digits = "".join(ch for ch in phone if ch.isdigit())
    return ("+" + digits if phone.startswith("+") else digits) if digits else ""


class MemberStatusChange(models.Model):
    """One move of a member through the lifecycle, with the reason given for it.

    An organizer's reason ("works for the vendor's HR", "asked to leave after ...") says something
    about a person, so it is encrypted here, on the object it explains, and not written into the
    append-only audit log: the audit record of the change names this row by id. Erasing the
    member clears the reasons and keeps the bare moves.
    """

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=Member.Status.choices)
    to_status = models.CharField(max_length=16, choices=Member.Status.choices)
    reason = EncryptedTextField(_("reason"), null=True, blank=True)
    changed_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_status} -> {self.to_status}"


class UnitHistory(models.Model):
    """Where a member worked and when: membership survives a change of employer."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="unit_history")
    unit = models.ForeignKey(BargainingUnit, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.member} @ {self.unit}"


class CardText(models.Model):
    """The wording of a union's card, versioned, one row per language of each version."""

    union = models.ForeignKey(Union, on_delete=models.PROTECT, related_name="card_texts")
    version = models.PositiveIntegerField()
    language = models.CharField(max_length=8)
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["union", "version", "language"], name="card_text_unique_version_language")
        ]

    def __str__(self) -> str:
        return f"{self.union} card v{self.version} ({self.language})"


class UnionCard(models.Model):
    """A signed union card. What was signed (text, typed name, consents, time) is kept encrypted."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cards")
    card_text = models.ForeignKey(CardText, on_delete=models.PROTECT, related_name="+")
    signed = EncryptedJSONField()
    signed_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-signed_at"]
        indexes = [
            # The organizing dashboard asks "has this member a valid card, and when was it signed".
            models.Index(fields=["member", "signed_at"], condition=models.Q(revoked_at__isnull=True),
                         name="card_valid_member"),
        ]

    def __str__(self) -> str:
        return f"card {self.code}"


class SignatureTally(models.Model):
    """Valid cards of a local signed in one 15-minute period (UTC), for the dashboard's weekly chart.

    Kept by the services with the unit tallies (membership/tally.py): +1 when a card is signed, -1
    when it is revoked or its member's record is deleted. Periods are a quarter of an hour so that
    weeks starting at local midnight in any time zone (offsets are whole quarters of an hour) are
    sums of whole periods: the chart stays exact in the viewer's time zone.
    """

    local = models.ForeignKey(Local, on_delete=models.CASCADE, related_name="+")
    period = models.DateTimeField()
    signed = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["local", "period"], name="signature_tally_local_period")]

    def __str__(self) -> str:
        return f"signatures of local {self.local_id} at {self.period:%Y-%m-%d %H:%M}: {self.signed}"


class Invitation(models.Model):
    """A personal, single-use, expiring invitation from a member. Only the token's hash is kept."""

    union = models.ForeignKey(Union, on_delete=models.CASCADE, related_name="invitations")
    local = models.ForeignKey(Local, on_delete=models.CASCADE, related_name="invitations")
    inviter = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, related_name="invitations_sent")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitation")

    def __str__(self) -> str:
        return f"invitation {self.pk}"


class SupportLevel(models.Model):
    """One step of a union's one-to-five support scale. A level in use cannot be deleted."""

    union = models.ForeignKey(Union, on_delete=models.CASCADE, related_name="support_levels")
    value = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    label = models.CharField(max_length=80)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["union", "value"], name="support_level_unique_value")]
        ordering = ["value"]

    def __str__(self) -> str:
        return f"{self.value}. {self.label}"


class SupportAssessment(models.Model):
    """An organizer's assessment of a contact's support, kept as history (latest counts)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="assessments")
    level = models.ForeignKey(SupportLevel, on_delete=models.PROTECT, related_name="assessments")
    recorded_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at"]
        # A member's latest assessment, for the dashboard's support summary, is one index seek.
        indexes = [models.Index(fields=["member", "-recorded_at", "-id"], name="assessment_latest")]

    def __str__(self) -> str:
        return f"{self.member}: {self.level}"


class RoleGrant(models.Model):
    """The role a user holds in a local. Officer roles require two-factor authentication."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    local = models.ForeignKey(Local, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    granted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "local"], name="one_role_per_local")]
        # The roll's role filter starts from the few grants of one role in the local.
        indexes = [models.Index(fields=["local", "role"], name="rolegrant_local_role")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.local}"


class JoinThrottle(models.Model):
    """A counter of sign-up attempts in one fixed time window, shared by every Daphne process.

    `key` names what is counted: a keyed hash of a client address (never the address itself) or
    a union's hourly or daily total. `alerted` makes the organizers' alert go out once per window.
    Rows older than a day are deleted by `manage.py join_cleanup`.
    """

    key = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)
    alerted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="join_throttle_one_row_per_window")]

    def __str__(self) -> str:
        return f"{self.key[:12]}@{self.window_start:%Y-%m-%d %H:%M}: {self.hits}"


# Second-factor devices live in their own module; importing them here registers them with the app.
from membership.devices import Authenticator, BackupCode, BackupCodeDevice  # noqa: E402, F401


class SupportTally(models.Model):
    """How many contacts of a local sit at a support level by their latest assessment (membership/tally.py).

    Kept by `support_assess`, erasure and sign-up cleanup in the same transaction, for the
    dashboard's support summary; `manage.py dashboard_tally --check` recounts it with the others.
    """

    local = models.ForeignKey(Local, on_delete=models.CASCADE, related_name="+")
    level = models.ForeignKey(SupportLevel, on_delete=models.CASCADE, related_name="+")
    members = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["local", "level"], name="support_tally_local_level")]

    def __str__(self) -> str:
        return f"support of local {self.local_id} at level {self.level_id}: {self.members}"
