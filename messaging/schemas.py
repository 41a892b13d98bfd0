"""The declared shapes of everything the rooms' API and socket accept and answer (Pydantic, through
django-ninja). One set of schemas validates HTTP bodies and WebSocket frames alike, and generates
the OpenAPI document at /api/messaging/openapi.json that clients written elsewhere build on.

Shapes follow the UR1 spec (e2ee.md §4.3-§4.9) exactly: strict types (no "1" for 1, no true for 1),
no extra field, base64url strings of the exact length of what they encode, integers below 2^53.
The services then run the protocol's own parsers and signature checks on top.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field, StrictInt, StringConstraints

from messaging.models import MAX_ENVELOPE_BYTES  # one limit for the API, the socket and the services

MAX_DEVICES = 32  # per user's device list
MAX_MEMBERS = 2000  # per room commit
MAX_COMMIT_DEVICES = 10000

B64u16 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{22}$")]  # 16 bytes
B64u12 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16}$")]  # 12 bytes (nonces)
B64u32 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]  # keys, commit ids
B64u64 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{86}$")]  # signatures
B64u80 = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{107}$")]  # wraps
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SafeInt = Annotated[int, Field(ge=0, lt=2**53)]
# Literal[1] would take `true` (True == 1); the version is an integer and exactly 1.
One = Annotated[StrictInt, Field(ge=1, le=1)]
# Strict mode takes no strings for UUIDs in Python mode; a code arrives as a JSON string.
Code = Annotated[UUID, Field(strict=False)]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class DeviceEntry(Strict):
    id: B64u16
    dsk: B64u32
    dek: B64u32
    added: SafeInt


class DeviceListBody(Strict):
    """A signed device list (§4.3)."""

    v: One
    user: UserId
    msk: B64u32
    version: SafeInt
    devices: list[DeviceEntry] = Field(max_length=MAX_DEVICES)
    sig: B64u64


class Sender(Strict):
    user: UserId
    device: B64u16


class Envelope(Strict):
    """A message envelope (§4.7); the ciphertext fits 90 KiB with the rest."""

    v: One
    t: Literal["msg"]
    suite: Literal["UR1"]
    room: B64u16
    epoch: SafeInt
    commit: B64u32
    sender: Sender
    ctr: SafeInt
    n: B64u12
    ct: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$", max_length=MAX_ENVELOPE_BYTES)]


class RoomMeta(Strict):
    """The room's name and topic sealed under K_m by an admin's device (messaging/ur1/meta.py)."""

    v: One
    t: Literal["meta"]
    suite: Literal["UR1"]
    room: B64u16
    epoch: SafeInt
    commit: B64u32
    sender: Sender
    n: B64u12
    ct: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$", max_length=6 * 1024)]


class CommitMember(Strict):
    user: UserId
    msk: B64u32
    role: Literal["admin", "member"]


class CommitDevice(Strict):
    user: UserId
    device: B64u16
    dek: B64u32
    dsk: B64u32


class CommitBody(Strict):
    """A signed commit (§4.4); `prev` is "" for genesis."""

    v: One
    t: Literal["commit"]
    suite: Literal["UR1"]
    room: B64u16
    epoch: SafeInt
    prev: Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9_-]{43})?$")]
    author: Sender
    members: list[CommitMember] = Field(max_length=MAX_MEMBERS)
    devices: list[CommitDevice] = Field(max_length=MAX_COMMIT_DEVICES)
    kc: B64u32
    ts: SafeInt
    sig: B64u64


class WrapBody(Strict):
    """The epoch secret HPKE-sealed to one device (§4.6): 80 bytes."""

    v: One
    t: Literal["wrap"]
    room: B64u16
    epoch: SafeInt
    commit: B64u32
    to_user: UserId
    to_device: B64u16
    w: B64u80


class CommitIn(Strict):
    commit: CommitBody
    wraps: list[WrapBody] = Field(max_length=MAX_COMMIT_DEVICES)


class RoomCreateIn(Strict):
    """A new room: `parent` is the code of the local, unit or grievance (a committee's local)."""

    kind: Literal["local", "unit", "grievance", "committee"]
    parent: Code
    room_id: B64u16
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    verified_only: bool = True


class SeatIn(Strict):
    """Seat (or unseat) a member of the local, by their roll code, on a committee."""

    member: Code
    seated: bool


class SeatOut(Schema):
    changed: bool
    pending_add: list[str]
    pending_remove: list[str]


class ReadIn(Strict):
    seq: SafeInt


class Pbkdf2Params(Strict):
    v: One
    kdf: Literal["pbkdf2-sha256"]
    it: Annotated[int, Field(ge=600_000, le=10_000_000)]
    salt: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{22}$")]


class Argon2Params(Strict):
    v: One
    kdf: Literal["argon2id"]
    m: Annotated[int, Field(ge=65536, le=1048576)]
    t: Annotated[int, Field(ge=3, le=10)]
    p: Annotated[int, Field(ge=1, le=16)]
    salt: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{22}$")]


class BackupParamsIn(Strict):
    params: Pbkdf2Params | Argon2Params


class BackupItemBody(Strict):
    v: One
    t: Literal["bk"]
    kind: Literal["epoch", "msk", "pins"]
    id: B64u16
    ver: SafeInt
    n: B64u12
    ct: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$", max_length=64 * 1024)]


# --- answers ------------------------------------------------------------------------------------

class Error(Schema):
    detail: str | list[dict[str, object]]


class DeviceOut(Schema):
    id: str
    revoked: bool


class MyDevicesOut(Schema):
    user: str
    device_list: DeviceListBody | None
    devices: list[DeviceOut]


class DeviceListsOut(Schema):
    device_lists: list[DeviceListBody]


class RoomOut(Schema):
    code: UUID
    room_id: str
    kind: str
    joined: bool
    unread: int
    epoch: int
    last_seq: int
    meta: RoomMeta | None  # the sealed name, for rooms the user has joined


class RoomsOut(Schema):
    rooms: list[RoomOut]


class RoomDetailOut(Schema):
    code: UUID
    room_id: str
    kind: str
    epoch: int
    head_commit: str
    last_seq: int
    retention_days: int
    verified_only: bool
    admins: list[str]
    # Who the roll makes the room's admins (officers of the local, a grievance's steward): an admin's
    # client gives them the admin role, and everyone else the member role, in the next commit.
    admins_entitled: list[str]
    pending_add: list[str]
    pending_remove: list[str]
    # Members who stay but whose devices changed since the head commit (added or revoked): the
    # next commit lists their current devices (§4.8).
    pending_devices: list[str]
    # The current epoch is older than 7 days or holds 10,000 messages: due for new keys (§4.8).
    rotation_due: bool
    meta: RoomMeta | None


class CommitsOut(Schema):
    commits: list[CommitBody]


class CommitAccepted(Schema):
    epoch: int
    commit_id: str


class WrapsOut(Schema):
    wraps: list[WrapBody]


class SequencedMessage(Schema):
    seq: int
    envelope: Envelope


class MessagesOut(Schema):
    messages: list[SequencedMessage]
    last_seq: int


class Sent(Schema):
    seq: int


class ReadOut(Schema):
    read_seq: int


class BackupParamsOut(Schema):
    params: Pbkdf2Params | Argon2Params | None


class BackupItemsOut(Schema):
    items: list[BackupItemBody]


# --- socket frames (messaging/consumers.py) -------------------------------------------------------

class SendFrame(Strict):
    """Client -> server: send one envelope to a room; `ref` comes back in the ack or error frame."""

    type: Literal["send"]
    room: Code
    ref: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    envelope: Envelope


class PingFrame(Strict):
    type: Literal["ping"]


class PersonBrief(Schema):
    user: str
    name: str


class PeopleOut(Schema):
    """Everyone who shares a room with the caller (their protocol id and pseudonym)."""

    people: list[PersonBrief]


class PersonOut(Schema):
    """One coworker and their newest signed device list (§4.3), or null before they enrolled."""

    user: str
    name: str
    device_list: DeviceListBody | None
