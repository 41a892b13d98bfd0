"""Second-factor devices whose secrets are not readable in the database.

django-otp's own TOTPDevice keeps the TOTP key in clear and StaticToken keeps backup codes in
clear: a copy of the database plus one password would beat two-factor authentication. These two
devices speak django-otp's `Device` API (so `devices_for_user`, `django_otp.login`,
`Device.from_persistent_id` and the OTP middleware work unchanged) but store:

- the TOTP key in an `EncryptedTextField` (AES-256-GCM under the data key ring, so
  `rotate_data_keys` re-encrypts it like every other encrypted field);
- each backup code only as a keyed HMAC-SHA256 (`crypto.blind_index`, key outside the database).
  A code has 80 random bits, and the hash is keyed, so a dump alone cannot be searched for codes.

Both keep django-otp's throttling (a doubling wait after each failure).
"""

from __future__ import annotations

import time
from base64 import b32encode
from binascii import unhexlify
from os import urandom
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models, transaction
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from union import crypto
from union.fields import EncryptedTextField

BACKUP_CODE_PURPOSE = "backup-code"


def new_totp_key() -> str:
    """20 random bytes, hex encoded, as django-otp makes them (RFC 4226 recommends 160 bits)."""
    return random_hex(20)


class Authenticator(TimestampMixin, ThrottlingMixin, Device):
    """A TOTP authenticator (RFC 6238) whose key is encrypted at rest.

    Verification is django-otp's TOTPDevice.verify_token: `tolerance` steps either side, the known
    `drift` of the phone's clock, and `last_t` so that a code, once used, never verifies again.
    """

    key = EncryptedTextField(default=new_totp_key)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "TOTP authenticator"

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.key.encode())

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token: Any) -> bool:
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            value = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            # Only steps after the last verified one: a code seen once (shoulder-surfed, replayed) is dead.
            verified = totp.verify(value, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                if getattr(settings, "OTP_TOTP_SYNC", True):
                    self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def current_code(self) -> str:
        """The code an authenticator shows now (for the development-only demo_totp command)."""
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        return f"{totp.token():0{self.digits}d}"

    @property
    def config_url(self) -> str:
        """The otpauth:// URL an authenticator app reads (Key Uri Format), shown once at enrolment."""
        label = str(self.user.get_username())
        params = {"secret": b32encode(self.bin_key), "algorithm": "SHA1", "digits": self.digits,
                  "period": self.step}
        query = urlencode(params)
        issuer = getattr(settings, "OTP_TOTP_ISSUER", "")
        if isinstance(issuer, str) and issuer:
            issuer = issuer.replace(":", "")
            label = f"{issuer}:{label}"
            query += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{query}"


def backup_code_hash(code: str) -> str:
    """The keyed hash a backup code is stored as (spaces ignored, case-insensitive)."""
    return crypto.blind_index("".join(code.split()), purpose=BACKUP_CODE_PURPOSE)


def new_backup_code() -> str:
    """80 random bits as 16 lowercase base32 characters."""
    return b32encode(urandom(10)).decode("ascii").lower()


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's set of single-use backup codes, kept only as keyed hashes (`BackupCode`)."""

    class Meta(Device.Meta):
        verbose_name = "backup codes"

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def verify_token(self, token: Any) -> bool:
        allowed, _details = self.verify_is_allowed()
        if not allowed:
            return False
        digest = backup_code_hash(str(token))
        with transaction.atomic():
            # One DELETE both checks and consumes the code: two requests racing with the same code
            # cannot both see a row, so a backup code works exactly once.
            used, _by_model = BackupCode.objects.filter(device=self, code_hash=digest).delete()
        if used:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False

    def issue(self, count: int) -> list[str]:
        """Replace this device's codes with `count` new ones, returned once and stored only hashed."""
        codes = [new_backup_code() for _i in range(count)]
        self.codes.all().delete()
        BackupCode.objects.bulk_create([BackupCode(device=self, code_hash=backup_code_hash(c)) for c in codes])
        return codes


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "code_hash"], name="backup_code_unique_in_device")]

    def __str__(self) -> str:
        return f"backup code {self.pk}"
