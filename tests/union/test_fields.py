"""Encrypted fields: nothing in clear in the database or in a dump, and lookups that cannot lie."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from membership.models import Member, User
from tests.factories import make_local, make_member
from tests.services import need
from union import crypto

CANARY_EMAIL = "canary-7f3a@example.org"
CANARY_NAME = "Canaryname Zqxwvut"


@pytest.fixture
def canary(db: None) -> User:
    local = make_local()
    user = make_member(local, handle="canary", email=CANARY_EMAIL)
    Member.objects.filter(user=user).update(legal_name=CANARY_NAME)
    return user


def raw_column(table: str, column: str, pk: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


class TestEncryptedFields:
    def test_it_stores_only_ciphertext(self, canary: User) -> None:
        raw = raw_column("membership_user", "email", canary.pk)
        assert CANARY_EMAIL.encode() not in raw
        assert crypto.key_id_of(raw) == crypto.key_ring().primary_id
        assert User.objects.get(pk=canary.pk).email == CANARY_EMAIL

    def test_it_keeps_a_dump_free_of_plaintext(self, canary: User) -> None:
        out = io.StringIO()
        call_command("dumpdata", "membership", stdout=out)
        dump = out.getvalue()
        assert CANARY_EMAIL not in dump and CANARY_NAME not in dump
        assert '"enc:' in dump

    def test_it_loads_its_own_dump_back(self, canary: User, tmp_path: Path) -> None:
        fixture = tmp_path / "users.json"
        call_command("dumpdata", "membership.user", output=str(fixture))
        User.objects.filter(pk=canary.pk).update(email=None)
        call_command("loaddata", str(fixture), verbosity=0)
        assert User.objects.get(pk=canary.pk).email == CANARY_EMAIL

    def test_it_refuses_lookups_on_ciphertext(self, canary: User) -> None:
        from django.core.exceptions import FieldError

        with pytest.raises(FieldError):
            list(User.objects.filter(email=CANARY_EMAIL))
        assert User.objects.filter(email__isnull=False, pk=canary.pk).exists()

    def test_it_finds_by_blind_index(self, canary: User) -> None:
        assert User.objects.get_by_email("  CANARY-7f3a@example.org") == canary

    def test_it_raises_when_a_value_was_moved_to_another_column(self, canary: User) -> None:
        raw = raw_column("membership_user", "email", canary.pk)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE membership_member SET legal_name = %s WHERE user_id = %s", [raw, canary.pk])
        with pytest.raises(crypto.DecryptionError):
            Member.objects.get(user=canary)



@pytest.mark.django_db(transaction=True)
def test_a_copy_of_the_database_holds_no_plaintext(tmp_path: Path) -> None:
    """Copy the whole database as an attacker would (file copy or pg_dump) and grep it."""
    local = make_local()
    user = make_member(local, handle="canary", email=CANARY_EMAIL)
    Member.objects.filter(user=user).update(legal_name=CANARY_NAME)
    if connection.vendor == "sqlite":
        copy = tmp_path / "copy.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(copy)])
        data = copy.read_bytes()
    else:
        need(shutil.which("pg_dump") is not None, "pg_dump not installed")
        params = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": params.get("PASSWORD") or ""}
        data = subprocess.run(
            ["pg_dump", "-h", params["HOST"] or "127.0.0.1", "-p", str(params["PORT"] or 5432),
             "-U", params["USER"] or "postgres", params["NAME"]],
            check=True, capture_output=True, env=env, timeout=60,
        ).stdout
    assert b"canary" in data  # the handle is plaintext by design: proves the copy has the rows
    assert CANARY_EMAIL.encode() not in data
    assert CANARY_NAME.encode() not in data
