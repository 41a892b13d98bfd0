"""Models of the shared infrastructure: the audit chain."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One append-only audit record, chained to the previous one by a keyed hash.

    Who did what to which object, and when; `details` carries identifiers, codes and counts,
    never personal data or typed text (`union.audit.audit_record` refuses the usual suspects,
    "reason" included: a reason lives encrypted on the object it explains, and the record names
    that object by id). The actor is kept as a plain id, not a foreign key, so that erasing a
    user cannot rewrite history.
    """

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    local_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class AuditChainHead(models.Model):
    """A single row: the last link of the chain. Appenders lock it, so links never fork.

    `seal` is a keyed HMAC over (last_seq, last_hash) with a key that lives outside the database
    (`union.audit.head_seal`): someone holding only the database can delete the last records but
    cannot rewind the head to match, so `audit_verify` notices the truncation.
    """

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    seal = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"audit head at #{self.last_seq}"
