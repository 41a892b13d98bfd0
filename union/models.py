"""Models of the shared infrastructure: the audit chain and the document layer."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from union.files import StoredFileField


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


class DocumentQuerySet(models.QuerySet["Document"]):
    def of(self, kind: str, owner_code: object) -> DocumentQuerySet:
        return self.filter(kind=kind, owner_code=str(owner_code))


class Document(models.Model):
    """One version of a kept document (a step letter, a signed card, a demand): never changed.

    The owner is named by a `kind` ("grievances.letter") and the owner's `code` as text, not by a
    content type: the core must not know the feature apps, content type ids differ between two
    databases restored from one another, and the code is the identifier the owning app already uses
    in its URLs and access checks. A new version is a new row; the file is encrypted on disk, bound
    to this row's code, kind, owner, version and hash, and its SHA-256 is checked on every read.
    People are kept as plain ids, as in the audit log, so erasing an account rewrites nothing here.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=60)
    owner_code = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    content_type = models.CharField(max_length=60, default="application/pdf")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = StoredFileField(folder="documents", aad_fields=("code", "kind", "owner_code", "version", "sha256"))
    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "owner_code", "version"], name="document_version_unique"),
        ]
        ordering = ["kind", "owner_code", "-version"]

    def __str__(self) -> str:
        return f"{self.kind} {self.owner_code} v{self.version}"

    def save(self, *args: object, **kwargs: object) -> None:
        # A kept document never changes: a correction is a new version, so only inserts are allowed.
        if not self._state.adding:
            raise ValueError("a stored document is never changed; store a new version")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class DocumentCustody(models.Model):
    """Chain of custody of a document: who stored, read or downloaded it, and when (ids only)."""

    class Action(models.TextChoices):
        STORED = "stored", _("Stored")
        READ = "read", _("Read")
        DOWNLOADED = "downloaded", _("Downloaded")
        REKEYED = "rekeyed", _("Re-encrypted under a new key")

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="custody")
    action = models.CharField(max_length=12, choices=Action.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.document_id}"
