"""Snapshot of what the server keeps per message (spec §5.3): the envelope fields of §4.7 and the
routing columns, nothing else. Adding a column or a field (a plaintext `preview`, a room name)
fails here and must be argued for against the threat model first."""

from __future__ import annotations

from messaging.models import Message, Room
from messaging.schemas import Envelope, Sender

ENVELOPE_FIELDS = {"v", "t", "suite", "room", "epoch", "commit", "sender", "ctr", "n", "ct"}


def test_the_envelope_schema_is_exactly_the_specs() -> None:
    assert set(Envelope.model_fields) == ENVELOPE_FIELDS
    assert set(Sender.model_fields) == {"user", "device"}
    assert Envelope.model_config.get("extra") == "forbid"


def test_message_rows_keep_only_routing_columns_and_the_envelope() -> None:
    columns = {field.name for field in Message._meta.concrete_fields}
    assert columns == {"id", "room", "seq", "epoch", "sender", "sender_device", "ctr", "envelope", "received_at"}


def test_rooms_keep_no_name_in_clear() -> None:
    columns = {field.name for field in Room._meta.concrete_fields}
    assert not columns & {"name", "title", "topic", "description"}
    assert "meta" in columns  # name and topic, sealed under K_m by a client, if any


def test_the_sealed_room_name_is_ciphertext_and_routing_only() -> None:
    from messaging.schemas import RoomMeta

    assert set(RoomMeta.model_fields) == {"v", "t", "suite", "room", "epoch", "commit", "sender", "n", "ct"}
    assert RoomMeta.model_config.get("extra") == "forbid"
