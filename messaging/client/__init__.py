"""The Python client of the encrypted rooms: `Account` keeps one user's keys and rooms in memory and
makes what the server stores (device lists, commits with wraps, envelopes) with messaging/ur1.

The test suite uses it to talk to the real API with genuine ciphertext; `python -m messaging.client`
(__main__.py) will drive it over HTTP. Nothing here talks to the network or the database.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from messaging import ur1


def new_id16() -> str:
    return ur1.b64u_encode(os.urandom(16))


@dataclass
class RoomState:
    room_id: str
    head: ur1.AcceptedCommit | None = None
    accepted: dict[int, ur1.AcceptedCommit] = field(default_factory=dict)  # epoch -> its accepted commit
    secrets: dict[int, bytes] = field(default_factory=dict)  # epoch -> es
    ctr: int = 0
    replay: ur1.ReplaySet = field(default_factory=ur1.ReplaySet)


@dataclass(frozen=True)
class Peer:
    """Another member as a commit lists them: public keys from their verified device list."""

    user_id: str
    msk: bytes
    devices: tuple[ur1.CommitDevice, ...]

    def commit_devices(self) -> list[ur1.CommitDevice]:
        return list(self.devices)

    @classmethod
    def from_device_list(cls, device_list: ur1.DeviceList) -> Peer:
        return cls(user_id=device_list.user, msk=device_list.msk, devices=tuple(
            ur1.CommitDevice(user=device_list.user, device=d.id, dek=d.dek, dsk=d.dsk) for d in device_list.devices))


@dataclass
class Account:
    """One user with one device (the tests' and the command line's shape)."""

    user_id: str
    msk_seed: bytes = field(default_factory=lambda: os.urandom(32))
    dsk_seed: bytes = field(default_factory=lambda: os.urandom(32))
    dek_secret: bytes = field(default_factory=lambda: os.urandom(32))
    device_id: str = field(default_factory=new_id16)
    version: int = 0
    rooms: dict[str, RoomState] = field(default_factory=dict)

    @property
    def msk(self) -> bytes:
        return ur1.ed25519_public(self.msk_seed)

    def device(self) -> ur1.Device:
        return ur1.Device(id=self.device_id, dsk=ur1.ed25519_public(self.dsk_seed),
                          dek=ur1.x25519_public(self.dek_secret), added=int(time.time()))

    def device_list(self, *, devices: list[ur1.Device] | None = None) -> dict[str, Any]:
        """The next version of this user's signed device list (this device, unless told otherwise)."""
        self.version += 1
        return ur1.sign_device_list(self.msk_seed, self.user_id, self.version,
                                    [self.device()] if devices is None else devices)

    def commit_device(self) -> ur1.CommitDevice:
        return ur1.CommitDevice(user=self.user_id, device=self.device_id, dek=ur1.x25519_public(self.dek_secret),
                                dsk=ur1.ed25519_public(self.dsk_seed))

    def commit_devices(self) -> list[ur1.CommitDevice]:
        return [self.commit_device()]

    def make_commit(self, room_id: str, members: list[tuple[Account | Peer, str]]) -> tuple[dict[str, Any], list[Any], bytes]:
        """The next commit of the room listing `members` (account, role) with one wrap per device.

        Returns (commit JSON, wraps, es); the caller `adopt`s it once the server accepted it.
        """
        state = self.rooms.setdefault(room_id, RoomState(room_id))
        prior = state.head
        epoch = 0 if prior is None else prior.commit.epoch + 1
        es = os.urandom(32)
        commit = ur1.Commit(
            room=room_id, epoch=epoch, prev=b"" if prior is None else prior.commit_id,
            author_user=self.user_id, author_device=self.device_id,
            members=tuple(ur1.Member(user=a.user_id, msk=a.msk, role=role) for a, role in members),
            devices=tuple(d for a, _role in members for d in a.commit_devices()),
            kc=ur1.key_commitment(es, room_id, epoch), ts=int(time.time()))
        body = ur1.sign_commit(self.dsk_seed, commit)
        parsed = ur1.parse_commit(body)
        accepted = ur1.AcceptedCommit(commit=parsed, commit_id=ur1.commit_id(parsed))
        wraps = [ur1.make_wrap(es, accepted, d.user, d.device) for d in parsed.devices]
        return body, wraps, es

    def accept(self, room_id: str, body: dict[str, Any], device_lists: dict[str, list[ur1.DeviceList]],
               pins: dict[str, ur1.Pin] | None = None) -> ur1.AcceptedCommit:
        """Accept the room's next commit as a client must (§4.4), and make it the head."""
        state = self.rooms.setdefault(room_id, RoomState(room_id))
        accepted = ur1.accept_commit(body, room=room_id, previous=state.head, pins=pins or {},
                                     device_lists=device_lists)
        state.head, state.ctr = accepted, 0
        state.accepted[accepted.commit.epoch] = accepted
        return accepted

    def catch_up(self, room_id: str, bodies: list[dict[str, Any]],
                 device_lists: dict[str, list[ur1.DeviceList]]) -> ur1.AcceptedCommit | None:
        """Accept, in order, the commits after this client's head (a new member verifies from genesis)."""
        state = self.rooms.setdefault(room_id, RoomState(room_id))
        start = -1 if state.head is None else state.head.commit.epoch
        for body in sorted(bodies, key=lambda b: b["epoch"]):
            if body["epoch"] > start:
                self.accept(room_id, body, device_lists)
        return self.rooms[room_id].head

    def take_wrap(self, room_id: str, wrap: dict[str, Any]) -> bytes:
        state = self.rooms[room_id]
        assert state.head is not None
        es = ur1.open_wrap(wrap, state.head, my_user=self.user_id, my_device=self.device_id,
                           dek_secret=self.dek_secret)
        state.secrets[state.head.commit.epoch] = es
        return es

    def seal(self, room_id: str, body: dict[str, Any]) -> dict[str, Any]:
        state = self.rooms[room_id]
        assert state.head is not None
        envelope = ur1.seal_message(ur1.encode_body(body), es=state.secrets[state.head.commit.epoch],
                                    accepted=state.head, user=self.user_id, device=self.device_id,
                                    ctr=state.ctr, dsk_seed=self.dsk_seed)
        state.ctr += 1
        return envelope

    def open(self, room_id: str, envelope: dict[str, Any]) -> ur1.OpenedMessage:
        """Open a message of any epoch this client accepted and holds the secret of."""
        state = self.rooms[room_id]
        epoch = envelope["epoch"]
        return ur1.open_message(envelope, room=room_id, accepted=state.accepted.get(epoch, state.head),
                                es=state.secrets[epoch], replay=state.replay)

    def seal_meta(self, room_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The room's name (and topic) sealed under K_m of the current epoch (admins only; messaging/ur1/meta.py)."""
        state = self.rooms[room_id]
        assert state.head is not None
        return ur1.seal_meta(body, es=state.secrets[state.head.commit.epoch], accepted=state.head,
                             user=self.user_id, device=self.device_id, dsk_seed=self.dsk_seed)

    def open_meta(self, room_id: str, blob: dict[str, Any]) -> dict[str, str]:
        """The room's name and topic from the blob the server keeps; it must be of the current epoch."""
        state = self.rooms[room_id]
        return ur1.open_meta(blob, room=room_id, accepted=state.head, es=state.secrets.get(blob.get("epoch", -1), b""))
