"""Room metadata (spec §4.5 K_m, §4.12): the room's name and topic, sealed by an admin's device.

The spec names K_m ("room name/topic/avatar blobs") but not the blob; this is Tessera's, shaped
like a message (§4.7) so that it gets the same guarantees:

    AAD  = lp("ure2e/v1/meta") ‖ lp("UR1") ‖ lp(room) ‖ u64(epoch) ‖ lp(commit_id)
           ‖ lp(sender.user) ‖ lp(sender.device)
    body = UTF-8 JSON {"name": …, "topic": …}, padded as a message body (256, 512 … bytes)
    sig  = Ed25519(DSK, lp("ure2e/v1/meta-sig") ‖ lp(AAD) ‖ lp(kc) ‖ lp(H(padded)))
    ct   = AES-256-GCM(K_m, 12 random bytes, sig ‖ padded, AAD)

    {"v":1,"t":"meta","suite":"UR1","room","epoch","commit","sender":{"user","device"},"n","ct"}

K_m is derived from the epoch secret, so the server (and anyone removed before the epoch) cannot
read the name; the padding hides its length to within a bucket. Every member holds K_m, so the
signature is what says an *admin* of that epoch set the name: a reader refuses a blob whose sender
is not an admin of the commit. An admin's client seals the name again after every commit, so a
member removed at epoch n never reads a name given later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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
    sha256,
    u64,
)
from .message import PADDED_SIZES, encode_body, pad, unpad
from .primitives import aead_open, aead_seal, ed25519_sign, ed25519_verify, random_bytes
from .room import SUITE, AcceptedCommit, meta_key

META_KEYS = ("v", "t", "suite", "room", "epoch", "commit", "sender", "n", "ct")
MAX_NAME = 200  # characters; a topic may be longer, within the smallest buckets
MAX_TOPIC = 2000


def meta_aad(room: str, epoch: int, cid: bytes, user: str, device: str) -> bytes:
    return lp("ure2e/v1/meta") + lp(SUITE) + lp(room) + u64(epoch) + lp(cid) + lp(user) + lp(device)


def _signature_tbs(aad: bytes, kc: bytes, padded: bytes) -> bytes:
    return lp("ure2e/v1/meta-sig") + lp(aad) + lp(kc) + lp(sha256(padded))


def _check_body(body: Any) -> dict[str, str]:
    if not isinstance(body, dict) or not set(body) <= {"name", "topic"} or "name" not in body:
        raise UR1Error("bad room metadata")
    name, topic = body["name"], body.get("topic", "")
    if not isinstance(name, str) or not isinstance(topic, str) or not 0 < len(name) <= MAX_NAME \
            or len(topic) > MAX_TOPIC:
        raise UR1Error("bad room metadata")
    return {"name": name, "topic": topic} if "topic" in body else {"name": name}


def seal_meta(body: dict[str, Any], *, es: bytes, accepted: AcceptedCommit, user: str, device: str,
              dsk_seed: bytes, nonce: bytes | None = None) -> dict[str, Any]:
    """Seal the room's name (and topic) in the commit's epoch; only an admin of that commit may."""
    commit = accepted.commit
    member = commit.member(user)
    if commit.device(user, device) is None or member is None or member.role != "admin":
        raise UR1Error("only an admin device of the epoch sets the room's name")
    nonce = random_bytes(12) if nonce is None else nonce
    aad = meta_aad(commit.room, commit.epoch, accepted.commit_id, user, device)
    padded = pad(encode_body(_check_body(body)))
    sig = ed25519_sign(dsk_seed, _signature_tbs(aad, commit.kc, padded))
    ct = aead_seal(meta_key(es, commit.room, commit.epoch), nonce, sig + padded, aad)
    return {"v": 1, "t": "meta", "suite": SUITE, "room": commit.room, "epoch": commit.epoch,
            "commit": b64u_encode(accepted.commit_id), "sender": {"user": user, "device": device},
            "n": b64u_encode(nonce), "ct": b64u_encode(ct)}


@dataclass(frozen=True)
class MetaBlob:
    room: str
    epoch: int
    commit: bytes
    user: str
    device: str
    nonce: bytes
    ct: bytes


def parse_meta(obj: Any) -> MetaBlob:
    """Strict parse: known v, t, suite; every field typed and canonically encoded."""
    check_keys(obj, META_KEYS)
    if type(obj["v"]) is not int or obj["v"] != 1 or obj["t"] != "meta" or obj["suite"] != SUITE:
        raise UR1Error("unknown metadata version, type or suite")
    sender = check_keys(obj["sender"], ("user", "device"))
    ct = b64u_decode(check_str(obj["ct"]))
    if len(ct) - 80 not in PADDED_SIZES or len(ct) - 80 > 4096:
        raise UR1Error("bad ciphertext length")
    return MetaBlob(room=check_id16(obj["room"]), epoch=check_int(obj["epoch"]),
                    commit=b64u_decode(check_str(obj["commit"]), 32), user=check_user_id(sender["user"]),
                    device=check_id16(sender["device"]), nonce=b64u_decode(check_str(obj["n"]), 12), ct=ct)


def open_meta(obj: Any, *, room: str, accepted: AcceptedCommit | None, es: bytes) -> dict[str, str]:
    """The name and topic, if an admin device of this accepted commit sealed them for this room."""
    blob = parse_meta(obj)
    if blob.room != room:
        raise UR1Error("metadata for another room")
    if accepted is None or accepted.commit.room != blob.room or accepted.commit.epoch != blob.epoch \
            or accepted.commit_id != blob.commit:
        raise UR1Error("unknown epoch or epoch fork")
    sender, member = accepted.commit.device(blob.user, blob.device), accepted.commit.member(blob.user)
    if sender is None or member is None or member.role != "admin":
        raise UR1Error("room metadata not from an admin of the epoch")
    aad = meta_aad(blob.room, blob.epoch, blob.commit, blob.user, blob.device)
    plain = aead_open(meta_key(es, blob.room, blob.epoch), blob.nonce, blob.ct, aad)
    sig, padded = plain[:64], plain[64:]
    ed25519_verify(sender.dsk, _signature_tbs(aad, accepted.commit.kc, padded), sig)
    try:
        return _check_body(json.loads(unpad(padded).decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        raise UR1Error("bad room metadata") from None
