"""Passphrase-protected key backup (spec §4.9): KDF parameters with client-enforced minimums,
the backup key, items sealed under AEAD with AAD binding user, kind, id and version, and the
generated 160-bit recovery key.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .encoding import (
    UR1Error,
    b64u_decode,
    b64u_encode,
    check_id16,
    check_int,
    check_keys,
    check_str,
    check_user_id,
    lp,
    u64,
)
from .primitives import aead_open, aead_seal, constant_time_equal, hkdf, random_bytes
from .room import AcceptedCommit, key_commitment

MIN_PBKDF2_ITERATIONS = 600_000
MIN_ARGON2_MEMORY_KIB = 65_536
MIN_ARGON2_TIME = 3  # §4.9 names t=3 beside m=64 MiB; a lower t would be a downgrade too
# Upper bounds are ours (the spec sets only floors): a server must not make a client hang or run out
# of memory by raising the cost either.
MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_ARGON2_MEMORY_KIB = 1_048_576
MAX_ARGON2_TIME = 16
KINDS = ("epoch", "msk", "pins")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_params(*, salt: bytes | None = None) -> dict[str, Any]:
    return {"v": 1, "kdf": "pbkdf2-sha256", "it": MIN_PBKDF2_ITERATIONS,
            "salt": b64u_encode(random_bytes(16) if salt is None else salt)}


def check_params(params: Any) -> dict[str, Any]:
    """Refuse any KDF outside the allow-list, a lowered cost or a salt that is not 16 bytes (§4.9, §6 #17)."""
    kdf = params.get("kdf") if isinstance(params, dict) else None
    if kdf == "pbkdf2-sha256":
        check_keys(params, ("v", "kdf", "it", "salt"))
        if check_int(params["it"]) < MIN_PBKDF2_ITERATIONS:
            raise UR1Error("backup KDF cost below the minimum")
        if params["it"] > MAX_PBKDF2_ITERATIONS:
            raise UR1Error("backup KDF cost above the maximum")
    elif kdf == "argon2id":
        check_keys(params, ("v", "kdf", "m", "t", "p", "salt"))
        if (check_int(params["m"]) < MIN_ARGON2_MEMORY_KIB or check_int(params["t"]) < MIN_ARGON2_TIME
                or check_int(params["p"], minimum=1) > 16):
            raise UR1Error("backup KDF cost below the minimum")
        if params["m"] > MAX_ARGON2_MEMORY_KIB or params["t"] > MAX_ARGON2_TIME:
            raise UR1Error("backup KDF cost above the maximum")
    else:
        raise UR1Error("backup KDF not allowed")
    if type(params["v"]) is not int or params["v"] != 1:
        raise UR1Error("unknown backup parameters version")
    b64u_decode(check_str(params["salt"]), 16)
    checked: dict[str, Any] = params
    return checked


def normalize_secret(secret: str, *, recovery_key: bool = False) -> bytes:
    """UTF-8 of NFC(secret); a generated recovery key is also uppercased, without spaces and dashes."""
    text = unicodedata.normalize("NFC", check_str(secret))
    if recovery_key:
        text = text.upper().replace(" ", "").replace("-", "")
    if not text:
        raise UR1Error("empty recovery secret")
    return text.encode("utf-8")


def derive_root(secret: str, params: Any, *, recovery_key: bool = False) -> bytes:
    params = check_params(params)
    password = normalize_secret(secret, recovery_key=recovery_key)
    salt = b64u_decode(params["salt"], 16)
    if params["kdf"] == "pbkdf2-sha256":
        return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=params["it"]).derive(password)
    return Argon2id(salt=salt, length=32, iterations=params["t"], lanes=params["p"],
                    memory_cost=params["m"]).derive(password)


def backup_key(root: bytes, user: str) -> bytes:
    return hkdf(root, lp("ure2e/v1/backup-key") + lp(check_user_id(user)))


def manifest_key(root: bytes) -> bytes:
    """Optional MACed manifest key (§4.9), against withheld or rolled-back items."""
    return hkdf(root, lp("ure2e/v1/backup-manifest"))


def item_aad(user: str, kind: str, item_id: str, ver: int) -> bytes:
    return lp("ure2e/v1/backup") + lp(user) + lp(kind) + lp(item_id) + u64(ver)


def seal_item(bk: bytes, user: str, kind: str, payload: dict[str, Any], *, ver: int = 1,
              item_id: str | None = None, nonce: bytes | None = None) -> dict[str, Any]:
    if kind not in KINDS:
        raise UR1Error("unknown backup kind")
    item_id = b64u_encode(random_bytes(16)) if item_id is None else check_id16(item_id)
    nonce = random_bytes(12) if nonce is None else nonce
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ct = aead_seal(bk, nonce, data, item_aad(check_user_id(user), kind, item_id, check_int(ver)))
    return {"v": 1, "t": "bk", "kind": kind, "id": item_id, "ver": ver, "n": b64u_encode(nonce), "ct": b64u_encode(ct)}


def open_item(bk: bytes, user: str, item: Any) -> dict[str, Any]:
    """Decrypt one backup item of `user`. Epoch items MUST still be checked against the signed kc."""
    check_keys(item, ("v", "t", "kind", "id", "ver", "n", "ct"))
    if type(item["v"]) is not int or item["v"] != 1 or item["t"] != "bk" or item["kind"] not in KINDS:
        raise UR1Error("unknown backup item")
    aad = item_aad(check_user_id(user), item["kind"], check_id16(item["id"]), check_int(item["ver"]))
    data = aead_open(bk, b64u_decode(check_str(item["n"]), 12), b64u_decode(check_str(item["ct"])), aad)
    try:
        payload = json.loads(data.decode("utf-8"))
    except ValueError:
        raise UR1Error("backup item is not JSON") from None
    if not isinstance(payload, dict):
        raise UR1Error("backup item is not an object")
    return payload


def generate_recovery_key() -> str:
    """20 random bytes (160 bits) as 32 Crockford base32 characters in 8 groups of 4."""
    n = int.from_bytes(random_bytes(20), "big")
    chars = "".join(_CROCKFORD[(n >> (5 * i)) & 31] for i in reversed(range(32)))
    return "-".join(chars[i:i + 4] for i in range(0, 32, 4))


def restore_epoch_secret(payload: dict[str, Any], accepted: AcceptedCommit) -> bytes:
    """An `epoch` item's secret, only if it belongs to this accepted commit and matches its signed kc."""
    check_keys(payload, ("room", "epoch", "commit", "es"))
    commit = accepted.commit
    if (payload["room"] != commit.room or check_int(payload["epoch"]) != commit.epoch
            or b64u_decode(check_str(payload["commit"]), 32) != accepted.commit_id):
        raise UR1Error("backup item does not match the commit")
    es = b64u_decode(check_str(payload["es"]), 32)
    if not constant_time_equal(key_commitment(es, commit.room, commit.epoch), commit.kc):
        raise UR1Error("backed-up secret does not match the commit (kc)")
    return es
