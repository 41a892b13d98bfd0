from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from union import crypto


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class TestEncryption:
    def test_it_round_trips_unicode(self) -> None:
        blob = crypto.encrypt_text("Wanjirũ — réclamation ñ", aad="membership.member.legal_name")
        assert crypto.decrypt_text(blob, aad="membership.member.legal_name") == "Wanjirũ — réclamation ñ"
        assert b"clamation" not in blob

    def test_it_uses_a_fresh_nonce_each_time(self) -> None:
        a = crypto.encrypt_text("same", aad="x")
        b = crypto.encrypt_text("same", aad="x")
        assert a != b

    def test_it_binds_the_value_to_its_field(self) -> None:
        blob = crypto.encrypt_text("secret", aad="membership.user.email")
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_text(blob, aad="membership.member.legal_name")

    def test_it_raises_on_tampering_instead_of_returning_bytes(self) -> None:
        blob = bytearray(crypto.encrypt_text("secret", aad="x"))
        blob[-1] ^= 1
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_text(bytes(blob), aad="x")

    @pytest.mark.parametrize("junk", [b"", b"plain text", b"T1", b"T1\x04dev1" + b"\x00" * 5])
    def test_it_raises_on_junk(self, junk: bytes) -> None:
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(junk, aad=b"x")

    def test_it_records_the_key_id_and_decrypts_with_old_keys(self, settings: Settings) -> None:
        old, new = key(), key()
        settings.TESSERA_DATA_KEYS = f"old:{old}"
        blob = crypto.encrypt_text("hello", aad="x")
        assert crypto.key_id_of(blob) == "old"
        settings.TESSERA_DATA_KEYS = f"new:{new},old:{old}"
        assert crypto.decrypt_text(blob, aad="x") == "hello"
        assert crypto.key_id_of(crypto.encrypt_text("hello", aad="x")) == "new"
        settings.TESSERA_DATA_KEYS = f"new:{new}"
        with pytest.raises(crypto.DecryptionError, match="unknown data key"):
            crypto.decrypt_text(blob, aad="x")

    @pytest.mark.parametrize(
        "spec", ["", "nokey", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}", "k1:{k},k1:{k}"]
    )
    def test_it_refuses_bad_key_rings(self, settings: Settings, spec: str) -> None:
        settings.TESSERA_DATA_KEYS = spec.replace("{k}", key())
        with pytest.raises(ImproperlyConfigured):
            crypto.encrypt_text("x", aad="x")


class TestBlindIndex:
    def test_it_matches_equal_values_after_normalizing(self) -> None:
        assert crypto.blind_index(" Amani@Example.ORG ", purpose="email") == crypto.blind_index(
            "amani@example.org", purpose="email"
        )

    def test_it_differs_per_purpose_and_value(self) -> None:
        a = crypto.blind_index("+254700000000", purpose="phone")
        assert a != crypto.blind_index("+254700000000", purpose="email")
        assert a != crypto.blind_index("+254700000001", purpose="phone")

    def test_it_depends_on_the_key(self, settings: Settings) -> None:
        before = crypto.blind_index("a@example.org", purpose="email")
        settings.TESSERA_BLIND_INDEX_KEY = key()
        assert crypto.blind_index("a@example.org", purpose="email") != before
        assert "a@example.org" not in before
