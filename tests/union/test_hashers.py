"""Argon2 parameters a 2-core server survives under a login storm, as README documents; old hashes upgraded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import argon2
from django.conf import settings as django_settings
from django.contrib.auth.hashers import Argon2PasswordHasher, identify_hasher, make_password
from django.test import Client
from django.urls import reverse

from membership.models import User
from tests.factories import PASSWORD, make_user
from union.hashers import TesseraArgon2PasswordHasher

README = Path(django_settings.BASE_DIR) / "README.md"
TESSERA_HASHER = "union.hashers.TesseraArgon2PasswordHasher"


def params(encoded: str) -> argon2.Parameters:
    return argon2.extract_parameters("$" + encoded.split("$", 1)[1])


class TestPasswordHasher:
    def test_settings_use_it_first(self) -> None:
        # The autouse test fixture swaps hashers; the settings module itself is what production runs.
        import union.settings as production

        assert production.PASSWORD_HASHERS[0] == TESSERA_HASHER

    def test_its_parameters_are_the_ones_readme_documents(self, settings: Any) -> None:
        stated = re.search(r"Argon2id with m=(\d+) MiB, t=(\d+), p=(\d+)", README.read_text())
        assert stated, "README must state the Argon2 parameters"
        m, t, p = (int(x) for x in stated.groups())
        settings.PASSWORD_HASHERS = [TESSERA_HASHER]
        encoded = make_password("a long enough passphrase")
        got = params(encoded)
        assert (got.type, got.memory_cost, got.time_cost, got.parallelism) == (argon2.Type.ID, m * 1024, t, p)
        assert (TesseraArgon2PasswordHasher.memory_cost, TesseraArgon2PasswordHasher.time_cost) == (m * 1024, t)
        assert m * 1024 < Argon2PasswordHasher.memory_cost

    def test_a_hash_with_djangos_defaults_still_logs_in_and_is_upgraded(self, settings: Any, db: None) -> None:
        settings.PASSWORD_HASHERS = [TESSERA_HASHER, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
        user = make_user("amani")
        old = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
        assert params(old).memory_cost == 102400
        User.objects.filter(pk=user.pk).update(password=old)
        client = Client()
        response = client.post(reverse("account:login"), {"username": "amani", "password": PASSWORD})
        assert response.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)
        new = User.objects.get(pk=user.pk).password
        assert new != old and identify_hasher(new).algorithm == "argon2"
        assert (params(new).memory_cost, params(new).time_cost, params(new).parallelism) == (46 * 1024, 1, 1)

    def test_a_wrong_password_does_not_touch_the_old_hash(self, settings: Any, db: None) -> None:
        settings.PASSWORD_HASHERS = [TESSERA_HASHER]
        user = make_user("amani")
        old = Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt())
        User.objects.filter(pk=user.pk).update(password=old)
        response = Client().post(reverse("account:login"), {"username": "amani", "password": "not the password"})
        assert response.status_code == 400 and User.objects.get(pk=user.pk).password == old
