"""Rooms (spec §4.4-§4.6): signed hash-chained commits, the client acceptance rules, epoch secret
derivations (kc, K_s, K_m) and HPKE wraps of the epoch secret (and history grants).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .encoding import (
    UR1Error,
    b64u_decode,
    b64u_encode,
    check_id16,
    check_int,
    check_keys,
    check_list,
    check_str,
    check_user_id,
    lp,
    lst,
    sha256,
    u64,
    utf8_sort_key,
)
from .identity import DeviceList, Pin, check_pin
from .primitives import (
    check_ed25519_public,
    constant_time_equal,
    ed25519_sign,
    ed25519_verify,
    hkdf,
    hpke_open_native,
    hpke_seal_base,
    hpke_seal_native,
)

SUITE = "UR1"
ROLES = ("admin", "member")


@dataclass(frozen=True)
class Member:
    user: str
    msk: bytes
    role: str


@dataclass(frozen=True)
class CommitDevice:
    user: str
    device: str
    dek: bytes
    dsk: bytes


@dataclass(frozen=True)
class Commit:
    room: str
    epoch: int
    prev: bytes  # b"" for genesis, else the previous commit_id (32 bytes)
    author_user: str
    author_device: str
    members: tuple[Member, ...]
    devices: tuple[CommitDevice, ...]
    kc: bytes
    ts: int
    sig: bytes = b""

    def device(self, user: str, device: str) -> CommitDevice | None:
        return next((d for d in self.devices if d.user == user and d.device == device), None)

    def member(self, user: str) -> Member | None:
        return next((m for m in self.members if m.user == user), None)


# --- epoch secret derivations (§4.5) ---------------------------------------------------------------

def key_commitment(es: bytes, room: str, epoch: int) -> bytes:
    return hkdf(_es(es), lp("ure2e/v1/kc") + lp(room) + u64(epoch))


def sender_key(es: bytes, room: str, epoch: int, user: str, device: str) -> bytes:
    """K_s: the AES-256-GCM key of one sender device in one epoch."""
    return hkdf(_es(es), lp("ure2e/v1/msg-key") + lp(room) + u64(epoch) + lp(user) + lp(device))


def meta_key(es: bytes, room: str, epoch: int) -> bytes:
    """K_m: encrypts room name, topic and avatar blobs (§4.12)."""
    return hkdf(_es(es), lp("ure2e/v1/meta-key") + lp(room) + u64(epoch))


def _es(es: bytes) -> bytes:
    if len(es) != 32:
        raise UR1Error("epoch secret must be 32 bytes")
    return es


# --- commits (§4.4) -----------------------------------------------------------------------------

def _sorted_members(members: Sequence[Member]) -> list[Member]:
    return sorted(members, key=lambda m: utf8_sort_key(m.user))


def _sorted_devices(devices: Sequence[CommitDevice]) -> list[CommitDevice]:
    return sorted(devices, key=lambda d: (utf8_sort_key(d.user), utf8_sort_key(d.device)))


def commit_tbs(commit: Commit) -> bytes:
    return (lp("ure2e/v1/commit") + lp(SUITE) + lp(commit.room) + u64(commit.epoch) + lp(commit.prev or bytes(32))
            + lp(commit.author_user) + lp(commit.author_device)
            + lst(lp(m.user) + lp(m.msk) + lp(m.role) for m in _sorted_members(commit.members))
            + lst(lp(d.user) + lp(d.device) + lp(d.dek) + lp(d.dsk) for d in _sorted_devices(commit.devices))
            + lp(commit.kc) + u64(commit.ts))


def commit_id(commit: Commit) -> bytes:
    return sha256(commit_tbs(commit))


def _check_commit_fields(commit: Commit) -> None:
    check_id16(commit.room)
    check_int(commit.epoch)
    check_int(commit.ts)
    check_user_id(commit.author_user)
    check_id16(commit.author_device)
    if (commit.epoch == 0) != (commit.prev == b"") or len(commit.prev) not in (0, 32) or len(commit.kc) != 32:
        raise UR1Error("bad commit chain fields")
    users = [m.user for m in commit.members]
    if len(set(users)) != len(users):
        raise UR1Error("duplicate member")
    for member in commit.members:
        check_user_id(member.user)
        check_ed25519_public(member.msk)
        if member.role not in ROLES:
            raise UR1Error("unknown role")
    pairs = [(d.user, d.device) for d in commit.devices]
    if len(set(pairs)) != len(pairs) or len({d.device for d in commit.devices}) != len(pairs):
        raise UR1Error("duplicate device")
    for device in commit.devices:
        check_id16(device.device)
        check_ed25519_public(device.dsk)
        if len(device.dek) != 32:
            raise UR1Error("bad device encryption key")
    # Rule 4: at least one admin remains; every device entry belongs to a listed member.
    if not any(m.role == "admin" for m in commit.members):
        raise UR1Error("no admin left")
    if not {d.user for d in commit.devices} <= set(users):
        raise UR1Error("device of a non-member")


def commit_to_json(commit: Commit) -> dict[str, Any]:
    return {"v": 1, "t": "commit", "suite": SUITE, "room": commit.room, "epoch": commit.epoch,
            "prev": b64u_encode(commit.prev), "author": {"user": commit.author_user, "device": commit.author_device},
            "members": [{"user": m.user, "msk": b64u_encode(m.msk), "role": m.role}
                        for m in _sorted_members(commit.members)],
            "devices": [{"user": d.user, "device": d.device, "dek": b64u_encode(d.dek), "dsk": b64u_encode(d.dsk)}
                        for d in _sorted_devices(commit.devices)],
            "kc": b64u_encode(commit.kc), "ts": commit.ts, "sig": b64u_encode(commit.sig)}


def sign_commit(dsk_seed: bytes, commit: Commit) -> dict[str, Any]:
    """Sign a commit with the author's device signing key; returns its JSON transport form."""
    _check_commit_fields(commit)
    signed = Commit(**{**commit.__dict__, "sig": ed25519_sign(dsk_seed, commit_tbs(commit))})
    return commit_to_json(signed)


def parse_commit(obj: Any) -> Commit:
    """Strict parse (shape, types, encodings, rule 4); the signature is checked by accept_commit."""
    check_keys(obj, ("v", "t", "suite", "room", "epoch", "prev", "author", "members", "devices", "kc", "ts", "sig"))
    if type(obj["v"]) is not int or obj["v"] != 1 or obj["t"] != "commit" or obj["suite"] != SUITE:
        raise UR1Error("unknown commit version, type or suite")
    author = check_keys(obj["author"], ("user", "device"))
    prev = check_str(obj["prev"])
    commit = Commit(
        room=check_id16(obj["room"]), epoch=check_int(obj["epoch"]),
        prev=b"" if prev == "" else b64u_decode(prev, 32),
        author_user=check_user_id(author["user"]), author_device=check_id16(author["device"]),
        members=tuple(Member(user=check_user_id(m["user"]), msk=b64u_decode(m["msk"], 32), role=check_str(m["role"]))
                      for m in (check_keys(x, ("user", "msk", "role")) for x in check_list(obj["members"]))),
        devices=tuple(CommitDevice(user=check_user_id(d["user"]), device=check_id16(d["device"]),
                                   dek=b64u_decode(d["dek"], 32), dsk=b64u_decode(d["dsk"], 32))
                      for d in (check_keys(x, ("user", "device", "dek", "dsk")) for x in check_list(obj["devices"]))),
        kc=b64u_decode(obj["kc"], 32), ts=check_int(obj["ts"]), sig=b64u_decode(obj["sig"], 64))
    _check_commit_fields(commit)
    return commit


@dataclass(frozen=True)
class AcceptedCommit:
    commit: Commit
    commit_id: bytes
    new_pins: Mapping[str, Pin] = field(default_factory=dict)  # users seen for the first time (TOFU)
    needs_rotation: bool = False  # a newer device list revoked a listed device (rule 5)


def accept_commit(obj: Any, *, room: str, previous: AcceptedCommit | None, pins: Mapping[str, Pin],
                  device_lists: Mapping[str, Sequence[DeviceList]]) -> AcceptedCommit:
    """The client acceptance rules 1-5 of §4.4 for commit n given accepted commit n−1 (None: genesis).

    `device_lists` holds, per user, the verified device lists this client has accepted (every version
    it kept); a commit device must be in one of them, and if it is absent from the newest the commit
    is accepted with `needs_rotation`. Rule 6 (the wrap and kc) is `open_wrap`.
    """
    commit = parse_commit(obj)  # rule 1: v, t, suite known; rule 4
    if commit.room != room:
        raise UR1Error("commit for another room")
    tbs = commit_tbs(commit)
    if previous is None:
        # Genesis: epoch 0, prev "", author an admin member of the genesis commit itself, signed by
        # a device it lists (there is no commit n−1 to take the device from).
        author = commit.member(commit.author_user)
        signer = commit.device(commit.author_user, commit.author_device)
        if commit.epoch != 0 or commit.prev or author is None or author.role != "admin" or signer is None:
            raise UR1Error("bad genesis commit")
    else:
        prior = previous.commit
        if commit.epoch != prior.epoch + 1:
            raise UR1Error("skipped or repeated epoch")
        if not constant_time_equal(commit.prev, previous.commit_id):
            raise UR1Error("wrong prev: epoch fork")
        # Rule 2: the author device is in commit n−1 and signs under its dsk there.
        signer = prior.device(commit.author_user, commit.author_device)
        if signer is None:
            raise UR1Error("author device not in the previous epoch")
        # Rule 3: an admin of n−1, or a self-device commit.
        author = prior.member(commit.author_user)
        if author is None or (author.role != "admin" and not _is_self_device_commit(prior, commit)):
            raise UR1Error("author may not make this commit")
    ed25519_verify(signer.dsk, tbs, commit.sig)
    # Rule 5: pinned MSKs, and devices from the members' verified device lists.
    new_pins: dict[str, Pin] = {}
    for member in commit.members:
        if check_pin(pins, member.user, member.msk) is None:
            new_pins[member.user] = Pin(msk=member.msk, verified=False)
    needs_rotation = False
    for device in commit.devices:
        lists = [dl for dl in device_lists.get(device.user, ()) if dl.user == device.user]
        owner = commit.member(device.user)
        assert owner is not None  # rule 4 above
        if not lists or any(dl.msk != owner.msk for dl in lists):
            raise UR1Error("no device list under the member's key")
        newest = max(lists, key=lambda dl: dl.version)
        if _listed(newest, device):
            continue
        if not any(_listed(dl, device) for dl in lists):
            raise UR1Error("device not in the member's device list")
        needs_rotation = True
    return AcceptedCommit(commit=commit, commit_id=sha256(tbs), new_pins=new_pins, needs_rotation=needs_rotation)


def _listed(device_list: DeviceList, device: CommitDevice) -> bool:
    entry = device_list.device(device.device)
    return entry is not None and entry.dsk == device.dsk and entry.dek == device.dek


def _is_self_device_commit(prior: Commit, commit: Commit) -> bool:
    """Members and roles identical to n−1; only device entries of the author's own user changed."""
    if set(prior.members) != set(commit.members):
        return False
    others_before = {d for d in prior.devices if d.user != commit.author_user}
    others_after = {d for d in commit.devices if d.user != commit.author_user}
    return others_before == others_after


# --- wraps (§4.6) ---------------------------------------------------------------------------------

WRAP_LABEL = "ure2e/v1/wrap"
HISTORY_LABEL = "ure2e/v1/history"


def wrap_info(room: str, epoch: int, cid: bytes, to_user: str, to_device: str, *, label: str = WRAP_LABEL) -> bytes:
    if label not in (WRAP_LABEL, HISTORY_LABEL):
        raise UR1Error("unknown wrap label")
    return lp(label) + lp(room) + u64(epoch) + lp(cid) + lp(to_user) + lp(to_device)


def make_wrap(es: bytes, accepted: AcceptedCommit, to_user: str, to_device: str, *,
              ephemeral_secret: bytes | None = None, label: str = WRAP_LABEL) -> dict[str, Any]:
    """HPKE-wrap `es` to one device of the commit. A fixed `ephemeral_secret` is for known-answer tests."""
    commit = accepted.commit
    target = commit.device(to_user, to_device)
    if target is None:
        raise UR1Error("recipient not in the commit")
    if not constant_time_equal(key_commitment(es, commit.room, commit.epoch), commit.kc):
        raise UR1Error("epoch secret does not match the commit")
    info = wrap_info(commit.room, commit.epoch, accepted.commit_id, to_user, to_device, label=label)
    if ephemeral_secret is None:
        w = hpke_seal_native(target.dek, info, _es(es))
    else:
        w = hpke_seal_base(target.dek, info, b"", _es(es), sk_e=ephemeral_secret)
    return {"v": 1, "t": "wrap" if label == WRAP_LABEL else "history", "room": commit.room, "epoch": commit.epoch,
            "commit": b64u_encode(accepted.commit_id), "to_user": to_user, "to_device": to_device, "w": b64u_encode(w)}


def open_wrap(obj: Any, accepted: AcceptedCommit, *, my_user: str, my_device: str, dek_secret: bytes) -> bytes:
    """Receive a wrap (§4.6) or a history grant: context equals the accepted commit, open, `kc` matches.

    For a history grant, `accepted` is the old epoch's commit, verified along the chain from genesis.
    """
    check_keys(obj, ("v", "t", "room", "epoch", "commit", "to_user", "to_device", "w"))
    if type(obj["v"]) is not int or obj["v"] != 1 or obj["t"] not in ("wrap", "history"):
        raise UR1Error("unknown wrap version or type")
    label = WRAP_LABEL if obj["t"] == "wrap" else HISTORY_LABEL
    commit = accepted.commit
    if (obj["room"] != commit.room or check_int(obj["epoch"]) != commit.epoch
            or b64u_decode(check_str(obj["commit"]), 32) != accepted.commit_id
            or obj["to_user"] != my_user or obj["to_device"] != my_device
            or commit.device(my_user, my_device) is None):
        raise UR1Error("wrap context does not match the commit")
    w = b64u_decode(check_str(obj["w"]), 80)
    es = hpke_open_native(dek_secret, wrap_info(commit.room, commit.epoch, accepted.commit_id, my_user, my_device,
                                                label=label), w)
    if len(es) != 32 or not constant_time_equal(key_commitment(es, commit.room, commit.epoch), commit.kc):
        raise UR1Error("wrapped secret does not match the commit (kc)")
    return es
