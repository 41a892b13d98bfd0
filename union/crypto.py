"""Encryption at rest: AES-256-GCM with key ids, and keyed blind indexes for exact-match lookups.

A ciphertext is `b"T1" + len(kid) + kid + nonce(12) + AES-GCM(ciphertext || tag)`. The key id lets
the key ring hold old keys while `manage.py rotate_data_keys` re-encrypts under a new primary one.
The associated data binds each value to where it is stored (`app.model.field`), so a ciphertext
copied into another column does not decrypt. Keys are read from settings at call time, never at
import time, and never stored in the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"T1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value could not be decrypted: wrong key, unknown key id, tampering or corruption."""


@dataclass(frozen=True)
class KeyRing:
    primary_id: str
    keys: dict[str, bytes]

    def key(self, kid: str) -> bytes:
        try:
            return self.keys[kid]
        except KeyError:
            raise DecryptionError(f"unknown data key id {kid!r}") from None


def _decode_key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{what} is not valid base64.") from None
    if len(key) != 32:
        raise ImproperlyConfigured(f"{what} must be 32 bytes (base64 of 32 random bytes).")
    return key


@lru_cache(maxsize=8)
def _parse_ring(spec: str) -> KeyRing:
    keys: dict[str, bytes] = {}
    primary = ""
    for item in spec.split(","):
        if not item.strip():
            continue
        kid, sep, b64 = item.strip().partition(":")
        if not sep or not kid or len(kid.encode()) > 32:
            raise ImproperlyConfigured("TESSERA_DATA_KEYS must look like 'kid:base64key,kid:base64key'.")
        if kid in keys:
            raise ImproperlyConfigured(f"TESSERA_DATA_KEYS names key id {kid!r} twice.")
        keys[kid] = _decode_key(b64, f"data key {kid!r}")
        primary = primary or kid
    if not keys:
        raise ImproperlyConfigured("TESSERA_DATA_KEYS holds no key.")
    return KeyRing(primary_id=primary, keys=keys)


def key_ring() -> KeyRing:
    return _parse_ring(settings.TESSERA_DATA_KEYS)


def encrypt(plaintext: bytes, *, aad: bytes) -> bytes:
    ring = key_ring()
    kid = ring.primary_id.encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.key(ring.primary_id)).encrypt(nonce, plaintext, MAGIC + kid + aad)
    return MAGIC + bytes([len(kid)]) + kid + nonce + sealed


def key_id_of(blob: bytes) -> str:
    if len(blob) < 3 or blob[:2] != MAGIC:
        raise DecryptionError("not a Tessera ciphertext")
    n = blob[2]
    return blob[3 : 3 + n].decode("ascii", errors="replace")


def decrypt(blob: bytes, *, aad: bytes) -> bytes:
    blob = bytes(blob)
    kid = key_id_of(blob)
    n = blob[2]
    nonce = blob[3 + n : 3 + n + NONCE_BYTES]
    sealed = blob[3 + n + NONCE_BYTES :]
    if len(nonce) != NONCE_BYTES or len(sealed) < 16:
        raise DecryptionError("truncated ciphertext")
    try:
        return AESGCM(key_ring().key(kid)).decrypt(nonce, sealed, MAGIC + kid.encode() + aad)
    except InvalidTag:
        raise DecryptionError("ciphertext failed authentication") from None


def encrypt_text(text: str, *, aad: str) -> bytes:
    return encrypt(text.encode("utf-8"), aad=aad.encode())


def decrypt_text(blob: bytes, *, aad: str) -> str:
    return decrypt(blob, aad=aad.encode()).decode("utf-8")


@lru_cache(maxsize=4)
def _index_key(spec: str) -> bytes:
    return _decode_key(spec, "TESSERA_BLIND_INDEX_KEY")


def normalize(value: str) -> str:
    """Canonical form for exact matching: Unicode NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed HMAC-SHA256 of the normalized value, separate per purpose ("email", "phone", ...).

    Equal inputs give equal indexes, so a unique column or an exact lookup works, while the
    database alone reveals nothing about the value. The key is not the encryption key.
    """
    key = _index_key(settings.TESSERA_BLIND_INDEX_KEY)
    message = purpose.encode() + b"\x00" + normalize(value).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def derived_key(purpose: str) -> bytes:
    """A sub-key of the blind index key for another keyed hash (audit chain, lockout keys)."""
    key = _index_key(settings.TESSERA_BLIND_INDEX_KEY)
    return hmac.new(key, b"tessera-derive\x00" + purpose.encode(), hashlib.sha256).digest()


def validate_keys(data_keys: str, blind_index_key: str) -> None:
    """Raise ImproperlyConfigured now, at start-up, rather than at the first encryption."""
    _parse_ring(data_keys)
    _index_key(blind_index_key)


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
