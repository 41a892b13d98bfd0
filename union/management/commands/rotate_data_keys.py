"""Re-encrypt every encrypted field under the primary data key, so old keys can be retired."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from union import crypto
from union.audit import audit_record
from union.fields import encrypted_fields_by_model, key_ids_in_use

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt all encrypted fields under the first key of TESSERA_DATA_KEYS. Put the new key first, "
        "keep the old ones after it, run this, check that only the new key id is listed, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        primary = crypto.key_ring().primary_id
        rewritten: Counter[str] = Counter()
        for model, fields in encrypted_fields_by_model().items():
            names = [f.name for f in fields]
            queryset = model._default_manager.order_by("pk").only("pk", *names)
            last_pk: Any = None
            while True:
                chunk_qs = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
                chunk = list(chunk_qs[:BATCH])
                if not chunk:
                    break
                with transaction.atomic():
                    # Saving a decrypted value encrypts it again, under the primary key.
                    model._default_manager.bulk_update(chunk, names)
                rewritten[model._meta.label] += len(chunk)
                last_pk = chunk[-1].pk
        in_use = key_ids_in_use()
        audit_record(None, "data_keys.rotate", None, primary=primary, rows=sum(rewritten.values()))
        for label, count in sorted(rewritten.items()):
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
        self.stdout.write("key ids in use: " + (", ".join(f"{k} ({n})" for k, n in sorted(in_use.items())) or "none"))
        if set(in_use) - {primary}:
            self.stderr.write("Some values still use an older key; run the command again.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Every encrypted value uses {primary}. Older keys can be removed."))
