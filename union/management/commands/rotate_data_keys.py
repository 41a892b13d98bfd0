"""Re-encrypt everything encrypted under the primary data key, so old keys can be retired.

"Everything" is found, not listed: every encrypted column of every installed model
(`union.fields.encrypted_fields_by_model`) and every encrypted file on disk that a model names with
a `StoredFileField` (`union.files.stored_file_fields_by_model`: evidence, documents). A model added
later (a TOTP device, a bargaining demand) is covered by declaring its fields with those types.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand
from django.db import models, transaction

from union import crypto
from union.audit import audit_record
from union.fields import encrypted_fields_by_model, key_ids_in_use
from union.files import file_key_ids_in_use, stored_file_fields_by_model
from union.models import Document, DocumentCustody

BATCH = 500


def _chunks(model: type[models.Model], names: list[str]) -> Any:
    """The rows of `model` a batch at a time, in primary key order, with only `names` loaded.

    The base manager, not the default one: a default manager that hides rows (archived, soft
    deleted) must not hide them from rotation, or their values would be lost with the old key.
    """
    queryset = model._base_manager.order_by("pk").only("pk", *names)
    last_pk: Any = None
    while True:
        chunk = list((queryset if last_pk is None else queryset.filter(pk__gt=last_pk))[:BATCH])
        if not chunk:
            return
        yield chunk
        last_pk = chunk[-1].pk


def rotate_fields() -> Counter[str]:
    rewritten: Counter[str] = Counter()
    for model, fields in encrypted_fields_by_model().items():
        names = [f.name for f in fields]
        for chunk in _chunks(model, names):
            with transaction.atomic():
                # Saving a decrypted value encrypts it again, under the primary key.
                model._base_manager.bulk_update(chunk, names)
            rewritten[model._meta.label] += len(chunk)
    return rewritten


def rotate_files() -> tuple[Counter[str], list[str]]:
    """Re-encrypt each file not yet under the primary key; return the counts and the missing files."""
    rewritten: Counter[str] = Counter()
    missing: list[str] = []
    for model, fields in stored_file_fields_by_model().items():
        names = sorted({f.name for f in fields} | {name for f in fields for name in f.aad_fields})
        for chunk in _chunks(model, names):
            for instance in chunk:
                for field in fields:
                    if not getattr(instance, field.attname):
                        continue
                    try:
                        changed = field.rekey(instance)
                    except FileNotFoundError:
                        missing.append(f"{model._meta.label} #{instance.pk}")
                        continue
                    if changed:
                        rewritten[model._meta.label] += 1
                        if isinstance(instance, Document):
                            # The bytes on disk changed (not the content, whose hash is unchanged).
                            DocumentCustody.objects.create(document=instance, action=DocumentCustody.Action.REKEYED)
    return rewritten, missing


class Command(BaseCommand):
    help = (
        "Re-encrypt all encrypted fields and files under the first key of TESSERA_DATA_KEYS. Put the new key "
        "first, keep the old ones after it, run this, check that only the new key id is listed, then drop the "
        "old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        primary = crypto.key_ring().primary_id
        rows = rotate_fields()
        files, missing = rotate_files()
        in_use, files_in_use = key_ids_in_use(), file_key_ids_in_use()
        audit_record(None, "data_keys.rotate", None, primary=primary, rows=sum(rows.values()),
                     files=sum(files.values()), missing_files=len(missing))
        for label, count in sorted(rows.items()):
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
        for label, count in sorted(files.items()):
            self.stdout.write(f"{label}: {count} file(s) re-encrypted")
        self.stdout.write("key ids in use (fields): " + _ids(in_use))
        self.stdout.write("key ids in use (files): " + _ids(files_in_use))
        for name in missing:
            self.stderr.write(f"File missing for {name}: restore it from backup before dropping the old key.")
        if (set(in_use) | set(files_in_use)) - {primary}:
            self.stderr.write("Some values or files still use an older key (or are missing); run the command again.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Everything encrypted uses {primary}. Older keys can be removed."))


def _ids(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} ({n})" for k, n in sorted(counts.items())) or "none"
