"""Messages (spec §4.7): AAD, padding, signed-then-encrypted envelopes, the receiver algorithm,
message ids, the replay set, the old-epoch rule and attachment chunks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    u32,
    u64,
)
from .primitives import aead_open, aead_seal, ed25519_sign, ed25519_verify, random_bytes
from .room import SUITE, AcceptedCommit, sender_key

MAX_ENVELOPE_BYTES = 90 * 1024  # §4.11
MAX_CTR = 2**63  # §6 #23: reject ctr ≥ 2⁶³ (JSON integers stop at 2⁵³ anyway)
OLD_EPOCH_SECONDS = 5 * 60  # §4.7 step 6
PADDED_SIZES = frozenset(256 << k for k in range(9))  # 256 … 65536
ENVELOPE_KEYS = ("v", "t", "suite", "room", "epoch", "commit", "sender", "ctr", "n", "ct")


def message_aad(room: str, epoch: int, cid: bytes, user: str, device: str, ctr: int) -> bytes:
    return (lp("ure2e/v1/msg") + lp(SUITE) + lp(room) + u64(epoch) + lp(cid)
            + lp(user) + lp(device) + u64(ctr))


def padded_length(n: int) -> int:
    """256, 512, 1024 … 65536, then multiples of 65536: the smallest that holds `n` bytes."""
    size = 256
    while size < n and size < 65536:
        size *= 2
    if n > size:
        size = -(-n // 65536) * 65536
    return size


def pad(body: bytes) -> bytes:
    return body + b"\x80" + bytes(padded_length(len(body) + 1) - len(body) - 1)


def unpad(padded: bytes) -> bytes:
    """The last non-zero byte must be 0x80, and the length must be the bucket of what it holds."""
    end = len(padded.rstrip(b"\x00"))
    if end == 0 or padded[end - 1] != 0x80 or padded_length(end) != len(padded):
        raise UR1Error("bad padding")
    return padded[:end - 1]


def encode_body(body: dict[str, Any]) -> bytes:
    """UTF-8 JSON as JavaScript's JSON.stringify writes it (compact, no ASCII escaping)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _signature_tbs(aad: bytes, kc: bytes, padded: bytes) -> bytes:
    return lp("ure2e/v1/msg-sig") + lp(aad) + lp(kc) + lp(sha256(padded))


def seal_message(body: bytes, *, es: bytes, accepted: AcceptedCommit, user: str, device: str, ctr: int,
                 dsk_seed: bytes, nonce: bytes | None = None) -> dict[str, Any]:
    """Sign then encrypt one message body in the commit's epoch. A fixed `nonce` is for known-answer tests."""
    commit = accepted.commit
    if commit.device(user, device) is None:
        raise UR1Error("sender not in the commit")
    if len(body) + 1 > max(PADDED_SIZES):
        raise UR1Error("message too long for one envelope")
    if not 0 <= ctr < MAX_CTR:
        raise UR1Error("counter out of range")
    nonce = random_bytes(12) if nonce is None else nonce
    aad = message_aad(commit.room, commit.epoch, accepted.commit_id, user, device, ctr)
    padded = pad(body)
    sig = ed25519_sign(dsk_seed, _signature_tbs(aad, commit.kc, padded))
    ct = aead_seal(sender_key(es, commit.room, commit.epoch, user, device), nonce, sig + padded, aad)
    return {"v": 1, "t": "msg", "suite": SUITE, "room": commit.room, "epoch": commit.epoch,
            "commit": b64u_encode(accepted.commit_id), "sender": {"user": user, "device": device},
            "ctr": ctr, "n": b64u_encode(nonce), "ct": b64u_encode(ct)}


@dataclass(frozen=True)
class Envelope:
    room: str
    epoch: int
    commit: bytes
    user: str
    device: str
    ctr: int
    nonce: bytes
    ct: bytes

    @property
    def aad(self) -> bytes:
        return message_aad(self.room, self.epoch, self.commit, self.user, self.device, self.ctr)


def parse_envelope(obj: Any) -> Envelope:
    """Step 1: strict parse; known v, t, suite; every field typed and canonically encoded."""
    check_keys(obj, ENVELOPE_KEYS)
    if type(obj["v"]) is not int or obj["v"] != 1 or obj["t"] != "msg" or obj["suite"] != SUITE:
        raise UR1Error("unknown message version, type or suite")
    sender = check_keys(obj["sender"], ("user", "device"))
    ctr = check_int(obj["ctr"])
    if ctr >= MAX_CTR:
        raise UR1Error("counter out of range")
    ct = b64u_decode(check_str(obj["ct"]))
    # 64-byte signature, a padding bucket and the tag; buckets past 65536 do not fit in 90 KiB as JSON.
    if len(ct) - 80 not in PADDED_SIZES:
        raise UR1Error("bad ciphertext length")
    return Envelope(room=check_id16(obj["room"]), epoch=check_int(obj["epoch"]),
                    commit=b64u_decode(check_str(obj["commit"]), 32), user=check_user_id(sender["user"]),
                    device=check_id16(sender["device"]), ctr=ctr, nonce=b64u_decode(check_str(obj["n"]), 12), ct=ct)


@dataclass
class ReplaySet:
    """Seen `(room, epoch, sender.device, ctr)` (§4.7 step 4). Keep it persistently, per epoch."""

    seen: set[tuple[str, int, str, int]] = field(default_factory=set)

    def check(self, env: Envelope) -> None:
        if (env.room, env.epoch, env.device, env.ctr) in self.seen:
            raise UR1Error("replayed message")

    def add(self, env: Envelope) -> None:
        self.seen.add((env.room, env.epoch, env.device, env.ctr))

    def gaps(self, room: str, epoch: int, device: str) -> list[int]:
        """Counters below the highest seen that never arrived: shown as "messages missing" (§5.2 #15)."""
        ctrs = {ctr for (r, e, d, ctr) in self.seen if (r, e, d) == (room, epoch, device)}
        return [ctr for ctr in range(max(ctrs) + 1) if ctr not in ctrs] if ctrs else []


@dataclass(frozen=True)
class OpenedMessage:
    body: bytes
    user: str
    device: str
    epoch: int
    ctr: int
    message_id: str


def open_message(obj: Any, *, room: str, accepted: AcceptedCommit | None, es: bytes,
                 replay: ReplaySet) -> OpenedMessage:
    """The receiver algorithm of §4.7, steps 1-5. `accepted` is this client's commit for the envelope's
    (room, epoch), or None when it has none (then, as when the ids differ: "unknown epoch or fork").

    The envelope joins the replay set only once it has opened, so forged envelopes cannot burn counters.
    """
    env = parse_envelope(obj)
    if env.room != room:
        raise UR1Error("message for another room")
    if accepted is None or accepted.commit.room != env.room or accepted.commit.epoch != env.epoch \
            or accepted.commit_id != env.commit:
        raise UR1Error("unknown epoch or epoch fork")
    sender = accepted.commit.device(env.user, env.device)
    if sender is None:
        raise UR1Error("sender not in the epoch")
    replay.check(env)
    aad = env.aad
    plain = aead_open(sender_key(es, env.room, env.epoch, env.user, env.device), env.nonce, env.ct, aad)
    sig, padded = plain[:64], plain[64:]
    ed25519_verify(sender.dsk, _signature_tbs(aad, accepted.commit.kc, padded), sig)
    body = unpad(padded)
    replay.add(env)
    return OpenedMessage(body=body, user=env.user, device=env.device, epoch=env.epoch, ctr=env.ctr,
                         message_id=message_id(obj))


def message_id(obj: Any) -> str:
    env = parse_envelope(obj)
    return b64u_encode(sha256(lp("ure2e/v1/msgid") + lp(env.aad) + lp(env.nonce) + lp(env.ct)))[:22]


def check_old_epoch(*, sender_user: str, next_commit: AcceptedCommit | None, next_accepted_at: float | None,
                    received_at: float) -> bool:
    """Step 6 for an epoch-n message. Raises if commit n+1 was accepted more than 5 minutes before and
    the sender is not a member in n+1; returns True when the message predates a rotation (show a hint).
    """
    if next_commit is None or next_accepted_at is None:
        return False
    if received_at - next_accepted_at > OLD_EPOCH_SECONDS and next_commit.commit.member(sender_user) is None:
        raise UR1Error("message from a removed sender after rotation")
    return True


# --- attachments (§4.7) ----------------------------------------------------------------------------

CHUNK = 64 * 1024


def attachment_aad(index: int, final: bool) -> bytes:
    """Per-chunk AAD. The spec fixes only that the last chunk carries a final flag; UR1 here binds
    a domain label, the chunk index and the flag, so chunks cannot be reordered, dropped or cut short.
    """
    return lp("ure2e/v1/att") + u32(index) + (b"\x01" if final else b"\x00")


def seal_attachment(data: bytes, key: bytes, *, prefix: bytes | None = None) -> bytes:
    """Chunks of 64 KiB, each `nonce(12) ‖ ct`, nonce = random8 ‖ u32(index)."""
    prefix = random_bytes(8) if prefix is None else prefix
    if len(key) != 32 or len(prefix) != 8:
        raise UR1Error("bad attachment key")
    count = max(1, -(-len(data) // CHUNK))
    out = []
    for index in range(count):
        nonce = prefix + u32(index)
        out.append(nonce + aead_seal(key, nonce, data[index * CHUNK:(index + 1) * CHUNK],
                                     attachment_aad(index, index == count - 1)))
    return b"".join(out)


def open_attachment(blob: bytes, key: bytes) -> bytes:
    step = 12 + CHUNK + 16
    chunks = [blob[i:i + step] for i in range(0, len(blob), step)] or [b""]
    out = []
    for index, chunk in enumerate(chunks):
        if len(chunk) < 12 + 16 or chunk[8:12] != u32(index) or chunk[:8] != chunks[0][:8]:
            raise UR1Error("bad attachment chunk")
        out.append(aead_open(key, chunk[:12], chunk[12:], attachment_aad(index, index == len(chunks) - 1)))
    return b"".join(out)
