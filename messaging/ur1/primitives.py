"""UR1 suite primitives (spec §4.2, §2.2): HKDF, AES-256-GCM, Ed25519 with the small-order
blocklist (Appendix A), X25519, and HPKE (RFC 9180) base mode.

HPKE is written out once by hand (RFC 9180 §4-§5) so known-answer tests can fix the ephemeral key;
everyday wraps go through pyca's native `hpke.Suite`, and the tests check the two agree.
"""

from __future__ import annotations

import hmac as std_hmac
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .encoding import UR1Error

ZERO_SALT = bytes(32)  # §4.1: HKDF salt spelled out as 32 zero bytes (WebCrypto refuses an empty HMAC key)

# Appendix A: the 14 Ed25519 small-order encodings, refused as public keys before any verify (§6 #10).
ED25519_SMALL_ORDER = frozenset(bytes.fromhex(h) for h in (
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
))


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return std_hmac.compare_digest(a, b)


# --- HKDF-SHA256 ---------------------------------------------------------------------------------

def hkdf(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 with salt = 32 zero bytes (§4.1)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=ZERO_SALT, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac_sha256(salt or ZERO_SALT, ikm)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac_sha256(prk, block + info + bytes([counter]))
        out += block
        counter += 1
    return out[:length]


# --- AES-256-GCM ---------------------------------------------------------------------------------

def aead_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if len(nonce) != 12 or len(key) not in (16, 32):
        raise UR1Error("bad AEAD key or nonce")
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    if len(nonce) != 12 or len(key) not in (16, 32) or len(ciphertext) < 16:
        raise UR1Error("bad AEAD input")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise UR1Error("decryption failed") from None


# --- Ed25519 -------------------------------------------------------------------------------------

def ed25519_public(seed: bytes) -> bytes:
    if len(seed) != 32:
        raise UR1Error("bad Ed25519 seed")
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    if len(seed) != 32:
        raise UR1Error("bad Ed25519 seed")
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(message)


_P25519 = 2**255 - 19


def check_ed25519_public(public: bytes) -> bytes:
    """A usable Ed25519 public key: 32 bytes, not one of Appendix A's small-order encodings, and a
    canonical y (< p). The last check is ours: engines disagree on non-canonical encodings, and
    divergent validity between clients is a group fork (§6 #10); no honest key is non-canonical.
    """
    if len(public) != 32 or public in ED25519_SMALL_ORDER:
        raise UR1Error("refused Ed25519 public key")
    if int.from_bytes(public, "little") & ((1 << 255) - 1) >= _P25519:
        raise UR1Error("refused Ed25519 public key")
    return public


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> None:
    check_ed25519_public(public)
    if len(signature) != 64:
        raise UR1Error("bad signature length")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise UR1Error("bad signature") from None


# --- X25519 --------------------------------------------------------------------------------------

def x25519_public(secret: bytes) -> bytes:
    if len(secret) != 32:
        raise UR1Error("bad X25519 key")
    return x25519.X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()


def x25519_dh(secret: bytes, public: bytes) -> bytes:
    """X25519; an all-zero result (small-order peer) is an error, as RFC 7748 §6.1 allows (§6 #10)."""
    if len(secret) != 32 or len(public) != 32:
        raise UR1Error("bad X25519 key")
    try:
        shared = x25519.X25519PrivateKey.from_private_bytes(secret).exchange(
            x25519.X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise UR1Error("X25519 small-order point") from None
    if shared == bytes(32):  # pyca already raises; kept so the check does not depend on it
        raise UR1Error("X25519 small-order point")
    return shared


# --- HPKE (RFC 9180), mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 ---------------------------

KEM_X25519 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
AEAD_AES_256_GCM = 0x0002  # the UR1 suite (§4.2)
_AEAD_KEY_LENGTH = {AEAD_AES_128_GCM: 16, AEAD_AES_256_GCM: 32}


def _i2osp2(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hkdf_extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(prk, _i2osp2(length) + b"HPKE-v1" + suite_id + label + info, length)


def _kem_shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    suite_id = b"KEM" + _i2osp2(KEM_X25519)
    eae_prk = _labeled_extract(suite_id, b"", b"eae_prk", dh)
    return _labeled_expand(suite_id, eae_prk, b"shared_secret", enc + pk_r, 32)


def _key_schedule(aead_id: int, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    suite_id = b"HPKE" + _i2osp2(KEM_X25519) + _i2osp2(KDF_HKDF_SHA256) + _i2osp2(aead_id)
    psk_id_hash = _labeled_extract(suite_id, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite_id, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    secret = _labeled_extract(suite_id, shared_secret, b"secret", b"")
    key = _labeled_expand(suite_id, secret, b"key", context, _AEAD_KEY_LENGTH[aead_id])
    base_nonce = _labeled_expand(suite_id, secret, b"base_nonce", context, 12)
    return key, base_nonce


def hpke_seal_base(pk_r: bytes, info: bytes, aad: bytes, plaintext: bytes, *, sk_e: bytes,
                   aead_id: int = AEAD_AES_256_GCM) -> bytes:
    """Single-shot SealBase with a given ephemeral secret key (seq 0); returns `enc ‖ ct`."""
    if aead_id not in _AEAD_KEY_LENGTH:
        raise UR1Error("unsupported HPKE AEAD")
    enc = x25519_public(sk_e)
    shared = _kem_shared_secret(x25519_dh(sk_e, pk_r), enc, pk_r)
    key, nonce = _key_schedule(aead_id, shared, info)
    return enc + aead_seal(key, nonce, plaintext, aad)


def hpke_open_base(sk_r: bytes, info: bytes, aad: bytes, sealed: bytes, *,
                   aead_id: int = AEAD_AES_256_GCM) -> bytes:
    """Single-shot OpenBase of `enc ‖ ct`, written out (the native API has no `aad`)."""
    if aead_id not in _AEAD_KEY_LENGTH or len(sealed) < 32 + 16:
        raise UR1Error("bad HPKE input")
    enc, ct = sealed[:32], sealed[32:]
    shared = _kem_shared_secret(x25519_dh(sk_r, enc), enc, x25519_public(sk_r))
    key, nonce = _key_schedule(aead_id, shared, info)
    return aead_open(key, nonce, ct, aad)


_NATIVE_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def hpke_seal_native(pk_r: bytes, info: bytes, plaintext: bytes) -> bytes:
    """SealBase through pyca's `hpke.Suite` (fresh ephemeral key, aad = ""); output `enc ‖ ct`."""
    if len(pk_r) != 32:
        raise UR1Error("bad X25519 key")
    try:
        return _NATIVE_SUITE.encrypt(plaintext, x25519.X25519PublicKey.from_public_bytes(pk_r), info)
    except ValueError:
        raise UR1Error("HPKE seal failed") from None


def hpke_open_native(sk_r: bytes, info: bytes, sealed: bytes) -> bytes:
    if len(sk_r) != 32 or len(sealed) < 32 + 16:
        raise UR1Error("bad HPKE input")
    try:
        return _NATIVE_SUITE.decrypt(sealed, x25519.X25519PrivateKey.from_private_bytes(sk_r), info)
    except (ValueError, InvalidTag):
        raise UR1Error("HPKE open failed") from None

