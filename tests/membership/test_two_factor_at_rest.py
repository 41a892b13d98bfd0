"""The second factor at rest: a copy of the database holds no TOTP key and no backup code."""

from __future__ import annotations

import io
import time
from base64 import b32encode

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django_otp.models import Device
from django_otp.oath import totp

from membership.devices import Authenticator, BackupCode, BackupCodeDevice
from tests.factories import PASSWORD, make_local, make_member

LOGIN = reverse("account:login")
SETUP = reverse("account:two_factor_setup")
VERIFY = reverse("account:two_factor_verify")


def code_at(key_hex: str, *, steps: int = 0, digits: int = 6) -> str:
    """The code an authenticator holding `key_hex` shows `steps` time steps from now."""
    return f"{totp(bytes.fromhex(key_hex), 30, 0 - steps * 30, digits, 0):0{digits}d}"


def raw_dump() -> str:
    """Every row of every table, as the database holds it (what a stolen copy shows)."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value)
                        parts.append(value.hex())
                        parts.append(value.decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts).lower()


def dumps() -> str:
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return (out.getvalue() + "\n" + raw_dump()).lower()


@pytest.mark.django_db
class TestNothingReadableInADump:
    def test_an_enrolled_officer_leaves_no_key_and_no_backup_code_in_a_dump(self, client: Client) -> None:
        steward = make_member(make_local(), "steward", handle="dumpsteward")
        client.post(LOGIN, {"username": "dumpsteward", "password": PASSWORD})
        client.get(SETUP)
        device = Authenticator.objects.get(user=steward)
        key_hex = device.key
        response = client.post(SETUP, {"otp_token": code_at(key_hex)})
        codes = response.context["codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        dump = dumps()
        key_b32 = b32encode(bytes.fromhex(key_hex)).decode().lower()
        assert key_hex.lower() not in dump and key_b32 not in dump
        for code in codes:
            assert code.lower() not in dump
        # And the stored forms still work: a backup code logs in once.
        other = Client()
        other.post(LOGIN, {"username": "dumpsteward", "password": PASSWORD})
        assert other.post(VERIFY, {"otp_token": codes[0]})["Location"] == "/"
        assert BackupCode.objects.filter(device__user=steward).count() == 9

    def test_the_key_column_holds_ciphertext(self) -> None:
        device = Authenticator.objects.create(user=make_member(make_local(), "steward"), name="phone")
        with connection.cursor() as cursor:
            cursor.execute("SELECT key FROM membership_authenticator WHERE id = %s", [device.pk])
            (raw,) = cursor.fetchone()
        assert device.key.encode() not in bytes(raw) and bytes.fromhex(device.key) not in bytes(raw)


@pytest.mark.django_db
class TestTheAuthenticatorVerifiesLikeDjangoOtp:
    def _device(self) -> Authenticator:
        return Authenticator.objects.create(user=make_member(make_local(), "steward"), name="phone")

    def test_the_current_code_verifies_once(self) -> None:
        device = self._device()
        code = code_at(device.key)
        assert device.verify_token(code)
        device = Authenticator.objects.get(pk=device.pk)
        assert not device.verify_token(code)  # replayed: last_t forbids it

    def test_one_step_of_clock_drift_is_tolerated_and_learnt(self) -> None:
        device = self._device()
        assert device.verify_token(code_at(device.key, steps=1))
        assert Authenticator.objects.get(pk=device.pk).drift == 1

    def test_codes_further_away_and_garbage_are_refused_and_throttled(self) -> None:
        device = self._device()
        assert not device.verify_token(code_at(device.key, steps=3))
        assert not device.verify_token("not a code")
        device = Authenticator.objects.get(pk=device.pk)
        assert device.throttling_failure_count == 1 or device.throttling_failure_count == 2
        # While throttled even the right code is refused.
        assert not device.verify_token(code_at(device.key))

    def test_it_loads_from_its_persistent_id(self) -> None:
        device = self._device()
        assert Device.from_persistent_id(device.persistent_id) == device
        with transaction.atomic():
            assert Device.from_persistent_id(device.persistent_id, for_verify=True) == device

    def test_a_backup_code_works_once(self) -> None:
        user = make_member(make_local(), "steward")
        device = BackupCodeDevice.objects.create(user=user, name="backup codes")
        codes = device.issue(3)
        assert device.verify_token(codes[1].upper())
        device = BackupCodeDevice.objects.get(pk=device.pk)
        assert not device.verify_token(codes[1])
        assert Device.from_persistent_id(device.persistent_id) == device


@pytest.mark.django_db(transaction=True)
class TestMigratingExistingDevices:
    BEFORE = [("membership", "0006_two_factor_devices_encrypted"), ("otp_totp", "0003_add_timestamps"),
              ("otp_static", "0003_add_timestamps")]
    AFTER = [("membership", "0007_move_two_factor_secrets")]

    def test_clear_rows_are_encrypted_hashed_and_deleted(self) -> None:
        user = make_member(make_local(), "steward", handle="oldsteward")
        executor = MigrationExecutor(connection)
        try:
            executor.migrate(self.BEFORE)
            old = executor.loader.project_state(self.BEFORE).apps
            key_hex = "3132333435363738393031323334353637383930"
            old_totp = old.get_model("otp_totp", "TOTPDevice").objects.create(
                user_id=user.pk, name="phone", confirmed=True, key=key_hex, last_t=-1, drift=0)
            static = old.get_model("otp_static", "StaticDevice").objects.create(
                user_id=user.pk, name="backup", confirmed=True)
            for token in ("abcd2345", "efgh6789"):
                static.token_set.create(token=token)
            used_t = int(time.time() // 30) - 5
            old.get_model("otp_totp", "TOTPDevice").objects.filter(pk=old_totp.pk).update(last_t=used_t)

            executor = MigrationExecutor(connection)
            executor.migrate(self.AFTER)
        finally:
            executor = MigrationExecutor(connection)
            executor.loader.build_graph()
            executor.migrate(executor.loader.graph.leaf_nodes())

        dump = raw_dump()
        assert key_hex not in dump and b32encode(bytes.fromhex(key_hex)).decode().lower() not in dump
        assert "abcd2345" not in dump and "efgh6789" not in dump
        with connection.cursor() as cursor:
            for table in ("otp_totp_totpdevice", "otp_static_statictoken", "otp_static_staticdevice"):
                cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - fixed names
                assert cursor.fetchone()[0] == 0, table
        device = Authenticator.objects.get(user=user)
        assert device.key == key_hex and device.last_t == used_t and device.confirmed
        assert device.verify_token(code_at(key_hex))
        backup = BackupCodeDevice.objects.get(user=user)
        assert backup.verify_token("ABCD2345")
        assert not BackupCodeDevice.objects.get(pk=backup.pk).verify_token("abcd2345")


@pytest.mark.django_db
def test_rotating_the_data_keys_covers_totp_keys(settings: object) -> None:
    import base64
    import os

    from union.fields import key_ids_in_use

    def new_key() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    old = f"old:{new_key()}"
    settings.TESSERA_DATA_KEYS = old  # type: ignore[attr-defined]
    device = Authenticator.objects.create(user=make_member(make_local(), "steward"), name="phone")
    key_hex = device.key
    settings.TESSERA_DATA_KEYS = f"new:{new_key()},{old}"  # type: ignore[attr-defined]
    call_command("rotate_data_keys", verbosity=0)
    assert set(key_ids_in_use()) == {"new"}
    settings.TESSERA_DATA_KEYS = settings.TESSERA_DATA_KEYS.split(",")[0]  # type: ignore[attr-defined]
    device = Authenticator.objects.get(pk=device.pk)
    assert device.key == key_hex and device.verify_token(code_at(key_hex))
