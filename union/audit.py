"""The audit log: append-only records chained by a keyed hash, and the check of that chain.

Each record's hash is HMAC-SHA256 (key derived from the blind index key, outside the database)
over the previous hash and the record's own fields. Editing, inserting or deleting a row breaks
the chain at that row, and someone holding only the database cannot forge a new chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from union import crypto
from union.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
# Detail keys that would carry personal data or secrets; audit_record refuses them so that a
# careless caller fails loudly in tests rather than leaking into a permanent record.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"email", "name", "legal_name", "phone", "password", "narrative", "notes", "note", "token",
     "secret", "address", "ip", "message", "body", "text"}
)


def _link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    key = crypto.derived_key("audit-chain")
    return hmac.new(key, (prev_hash + payload).encode(), hashlib.sha256).hexdigest()


def _fields_of(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "local_id": event.local_id,
        "details": event.details,
    }


@transaction.atomic
def audit_record(
    actor: Any,
    action: str,
    target: models.Model | None = None,
    *,
    local_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one record. `actor` is a user or None (the system); details must be non-personal."""
    bad = FORBIDDEN_DETAIL_KEYS.intersection(details)
    if bad:
        raise ValueError(f"audit details must not carry personal data: {sorted(bad)}")
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        seq=head.last_seq + 1,
        # Stored at microsecond precision and hashed as stored, so re-reading gives the same text.
        created_at=timezone.now(),
        actor_id=actor.pk if is_user else None,
        # Never the handle: it may identify a person, and an erased member's handle must not
        # outlive the erasure in an append-only log. Pages resolve actor_id to today's handle.
        actor_label="user" if is_user else "system",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(getattr(target, "code", None) or getattr(target, "pk", "")) if target is not None else "",
        local_id=local_id,
        details=json.loads(json.dumps(details, default=str)),
        prev_hash=head.last_hash,
    )
    event.hash = _link_hash(event.prev_hash, _fields_of(event))
    event.save()
    head.last_seq, head.last_hash = event.seq, event.hash
    head.save(update_fields=["last_seq", "last_hash"])
    return event


@dataclass
class ChainReport:
    ok: bool
    checked: int
    problem: str = ""
    seq: int | None = None


def verify_chain() -> ChainReport:
    """Walk the chain in order and report the first row that was edited, inserted or deleted."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return ChainReport(False, checked, f"record #{expected_seq} is missing (next is #{event.seq}): deleted", expected_seq)
        if event.prev_hash != prev_hash:
            return ChainReport(False, checked, f"record #{event.seq} does not follow #{event.seq - 1}: inserted or reordered", event.seq)
        if _link_hash(prev_hash, _fields_of(event)) != event.hash:
            return ChainReport(False, checked, f"record #{event.seq} was edited", event.seq)
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        return ChainReport(False, checked, f"the chain ends at #{expected_seq - 1} but #{head.last_seq} was written: records deleted at the end", expected_seq)
    return ChainReport(True, checked)
