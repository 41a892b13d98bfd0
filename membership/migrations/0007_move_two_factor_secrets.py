"""Move every TOTP key and backup code out of django-otp's clear tables, then delete the clear rows.

TOTP keys are copied into `membership.Authenticator` (encrypted by its field); backup codes into
`membership.BackupCode` as keyed hashes. Throttling state, drift and `last_t` (replay protection)
come along, so a code already used stays used. Device ids change: a session verified with an old
device has to verify again once (its persistent id names the old model), which is the safe side.

The reverse migration does not write secrets back in clear; migrating back leaves the officers to
enrol again.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def forward(apps: Any, schema_editor: Any) -> None:
    from membership.devices import backup_code_hash

    alias = schema_editor.connection.alias
    OldTotp = apps.get_model("otp_totp", "TOTPDevice")
    OldStatic = apps.get_model("otp_static", "StaticDevice")
    Authenticator = apps.get_model("membership", "Authenticator")
    BackupCodeDevice = apps.get_model("membership", "BackupCodeDevice")
    BackupCode = apps.get_model("membership", "BackupCode")

    common = ("user_id", "name", "confirmed", "throttling_failure_timestamp", "throttling_failure_count",
              "created_at", "last_used_at")
    for old in OldTotp.objects.using(alias).order_by("pk"):
        new = Authenticator.objects.using(alias).create(
            key=old.key, step=old.step, t0=old.t0, digits=old.digits, tolerance=old.tolerance, drift=old.drift,
            last_t=old.last_t, **{name: getattr(old, name) for name in common})
        # created_at is auto_now_add: put the enrolment time back.
        Authenticator.objects.using(alias).filter(pk=new.pk).update(created_at=old.created_at)
    OldTotp.objects.using(alias).all().delete()

    for old in OldStatic.objects.using(alias).order_by("pk"):
        device = BackupCodeDevice.objects.using(alias).create(**{name: getattr(old, name) for name in common})
        BackupCodeDevice.objects.using(alias).filter(pk=device.pk).update(created_at=old.created_at)
        hashes = {backup_code_hash(token.token) for token in old.token_set.all()}
        BackupCode.objects.using(alias).bulk_create([BackupCode(device=device, code_hash=h) for h in hashes])
    # Cascades to the tokens.
    OldStatic.objects.using(alias).all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("membership", "0006_two_factor_devices_encrypted"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
