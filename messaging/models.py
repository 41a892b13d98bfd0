"""Models of the encrypted rooms (spec e2ee.md, UR1, §4.11): ciphertext and public data only.

Nothing here could tell the server what a room is called or what anyone wrote: device lists and
commits are public keys and signatures the clients verify; wraps, messages and backup items are
HPKE or AES-GCM ciphertext made in the members' browsers. What the server does see is metadata
(§4.12: who is in which room, when, how much), which it needs to order commits, deliver wraps
and decide who may fetch what.

The JSON columns keep each object exactly as the client sent it, so every client can re-verify
the signatures; the columns beside them are copies of public fields for indexing and checks.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A b64u string of 16 random bytes (device and room ids) and of 32 bytes (commit ids).
ID16_LENGTH = 22
ID32_LENGTH = 43
MAX_ENVELOPE_BYTES = 90 * 1024


class Device(models.Model):
    """One browser or client of a user, as listed in the user's latest signed device list.

    A device id is never reused (the spec makes the server reject duplicates): a revoked device
    keeps its row, with `revoked_at`, so that it cannot come back.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="e2ee_devices")
    device_id = models.CharField(max_length=ID16_LENGTH, unique=True)
    dsk = models.CharField(max_length=ID32_LENGTH)  # Ed25519 public key, b64u
    dek = models.CharField(max_length=ID32_LENGTH)  # X25519 public key, b64u
    added = models.BigIntegerField()  # the client's `added` time, as signed
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"device {self.device_id}"


class DeviceList(models.Model):
    """Every signed device list a user published (§4.3); clients pin the highest version."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="e2ee_device_lists")
    version = models.BigIntegerField()
    msk = models.CharField(max_length=ID32_LENGTH)  # the master signing key (public), b64u
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="devicelist_user_version")]

    def __str__(self) -> str:
        return f"device list v{self.version}"


class Room(models.Model):
    """An encrypted room that follows the union: a local, a bargaining unit, a grievance, a committee.

    `room_id` is the protocol's id (16 random bytes made by the client); `code` addresses the room
    in URLs. The head of the commit chain (`epoch`, `head_commit`) and the last message sequence
    number are kept here so that compare-and-swap and numbering lock one row.
    """

    class Kind(models.TextChoices):
        LOCAL = "local", _("Local")
        UNIT = "unit", _("Bargaining unit")
        GRIEVANCE = "grievance", _("Grievance")
        COMMITTEE = "committee", _("Committee")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    room_id = models.CharField(max_length=ID16_LENGTH, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    local = models.ForeignKey("membership.Local", on_delete=models.CASCADE, related_name="rooms")
    unit = models.ForeignKey("membership.BargainingUnit", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="rooms")
    grievance = models.ForeignKey("grievances.Grievance", on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="rooms")
    # Room name and topic, sealed under K_m by a client (§4.12); opaque here, never required.
    meta = models.JSONField(default=dict, blank=True)
    retention_days = models.PositiveIntegerField(default=90)
    # Verified-only (§4.3): while a member's identity key has changed and nobody re-verified it,
    # browsers refuse to send here (elsewhere they warn). Every kind defaults to it. Local, unit and
    # committee rooms are the organizing rooms the spec names. Grievance rooms too, by decision:
    # they hold one worker's case against the employer, the most likely target of a server made
    # to hand out a false key, and they are small (the grievants and their steward, who talk
    # anyway), so re-verifying costs one call reading out 60 digits, and keys change rarely
    # (a new device keeps its key; only losing the recovery key makes a new one). The server
    # cannot enforce it (trust lives in the browsers): it only carries the flag, in the room's
    # detail, and browsers keep it once seen (messaging/static/messaging/verify.js).
    verified_only = models.BooleanField(
        default=True, help_text=_("Refuse to send while a member's identity key changed and was not re-verified."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    epoch = models.BigIntegerField(default=-1)  # -1: no genesis commit yet
    head_commit = models.CharField(max_length=ID32_LENGTH, blank=True, default="")
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # One room per local, per unit and per grievance; committees are as many as officers make.
            models.UniqueConstraint(fields=["local"], condition=Q(kind="local"), name="room_one_per_local"),
            models.UniqueConstraint(fields=["unit"], condition=Q(kind="unit"), name="room_one_per_unit"),
            models.UniqueConstraint(fields=["grievance"], condition=Q(kind="grievance"),
                                    name="room_one_per_grievance"),
        ]

    def __str__(self) -> str:
        return f"room {self.code}"


class CommitteeSeat(models.Model):
    """A member an officer put on a committee: who SHOULD be in a committee room."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="seats")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="committeeseat_room_user")]

    def __str__(self) -> str:
        return f"seat {self.pk}"


class RoomMember(models.Model):
    """A member of the room's current epoch, copied from the signed commit (public metadata, §4.12).

    The server never adds anyone by itself: these rows change only when a client's commit lands.
    `read_seq` is the last message the user marked read (unread counts).
    """

    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        MEMBER = "member", _("Member")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_memberships")
    role = models.CharField(max_length=6, choices=Role.choices)
    read_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="roommember_room_user")]

    def __str__(self) -> str:
        return f"room member {self.pk}"


class Commit(models.Model):
    """One signed commit (§4.4), kept verbatim; unique per (room, epoch): the compare-and-swap."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="commits")
    epoch = models.BigIntegerField()
    commit_id = models.CharField(max_length=ID32_LENGTH)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    author_device = models.CharField(max_length=ID16_LENGTH)
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "epoch"], name="commit_room_epoch")]

    def __str__(self) -> str:
        return f"commit {self.epoch}"


class Wrap(models.Model):
    """The epoch secret sealed to one device (§4.6); only that device's owner may fetch it."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="wraps")
    epoch = models.BigIntegerField()
    to_device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="wraps")
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "epoch", "to_device"], name="wrap_room_epoch_device")]

    def __str__(self) -> str:
        return f"wrap {self.pk}"


class Message(models.Model):
    """One envelope (§4.7) with the room's sequence number, assigned in the writing transaction."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    epoch = models.BigIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    sender_device = models.CharField(max_length=ID16_LENGTH)
    ctr = models.BigIntegerField()
    envelope = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq"),
            # The same counter twice from one device in one epoch is a replay (§4.7 step 4).
            models.UniqueConstraint(fields=["room", "epoch", "sender_device", "ctr"], name="message_no_replay"),
        ]

    def __str__(self) -> str:
        return f"message {self.seq}"


class BackupParams(models.Model):
    """The user's backup KDF parameters (§4.9); clients refuse weak ones, the server checks too."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="e2ee_backup")
    body = models.JSONField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"backup params {self.pk}"


class BackupItem(models.Model):
    """One AES-GCM backup item (§4.9): an epoch secret, the MSK seed or pins, sealed by the client."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="e2ee_backup_items")
    item_id = models.CharField(max_length=ID16_LENGTH)
    kind = models.CharField(max_length=5)
    ver = models.BigIntegerField()
    body = models.JSONField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "item_id"], name="backupitem_user_item")]

    def __str__(self) -> str:
        return f"backup item {self.pk}"
