"""Model fields whose values are encrypted at rest with `union.crypto`.

The column holds only ciphertext (a binary column); Python code sees the plaintext. These fields
cannot be filtered or ordered on: the database cannot compare what it cannot read. For exact
lookups, store a `blind_index()` in a separate indexed column beside the encrypted one.

Serialization (`dumpdata`, fixtures) writes the ciphertext, base64 encoded behind "enc:", never the
plaintext, so a dump is as safe as the database itself.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models

from union import crypto

SERIAL_PREFIX = "enc:"

# The mixin is only ever combined with a model field; telling the type checker so lets it check the
# mixin's uses of `self.model`, `self.name` and `super()` (at run time the base stays `object`).
if TYPE_CHECKING:
    _FieldBase = models.Field[Any, Any]
else:
    _FieldBase = object


class EncryptedMixin(_FieldBase):
    """Shared machinery: (de)serialize `self.value_type` through AES-GCM bound to model and field."""

    def aad(self) -> bytes:
        return f"{self.model._meta.label_lower}.{self.name}".encode()

    def get_internal_type(self) -> str:
        return "BinaryField"

    def to_plain_bytes(self, value: Any) -> bytes:
        raise NotImplementedError

    def from_plain_bytes(self, data: bytes) -> Any:
        raise NotImplementedError

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return self.from_plain_bytes(crypto.decrypt(bytes(value), aad=self.aad()))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        blob = crypto.encrypt(self.to_plain_bytes(value), aad=self.aad())
        return connection.Database.Binary(blob)

    # django-stubs says `str`, but Django itself returns other values here (JSONField returns the
    # raw object) and its serializers never pass None in: keeping None for None is honest.
    def value_to_string(self, obj: models.Model) -> str | None:  # type: ignore[override]
        value = self.value_from_object(obj)
        if value is None:
            return None
        blob = crypto.encrypt(self.to_plain_bytes(value), aad=self.aad())
        return SERIAL_PREFIX + base64.b64encode(blob).decode()

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SERIAL_PREFIX):
            blob = base64.b64decode(value[len(SERIAL_PREFIX) :])
            return self.from_plain_bytes(crypto.decrypt(blob, aad=self.aad()))
        return value

    def get_lookup(self, lookup_name: str) -> Any:
        # Only "is null" makes sense on ciphertext; anything else would silently match nothing.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, name: str) -> Any:
        return None


class EncryptedTextField(EncryptedMixin, models.TextField):
    description = "Text encrypted at rest (AES-256-GCM)"

    def to_plain_bytes(self, value: Any) -> bytes:
        return str(value).encode("utf-8")

    def from_plain_bytes(self, data: bytes) -> str:
        return data.decode("utf-8")

    def get_prep_value(self, value: Any) -> Any:
        return value


class EncryptedJSONField(EncryptedMixin, models.Field):
    description = "JSON encrypted at rest (AES-256-GCM)"

    def to_plain_bytes(self, value: Any) -> bytes:
        try:
            return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        except TypeError as exc:
            raise ValidationError(f"Value is not JSON serializable: {exc}") from exc

    def from_plain_bytes(self, data: bytes) -> Any:
        return json.loads(data)


def encrypted_fields_by_model() -> dict[type[models.Model], list[EncryptedMixin]]:
    """Every concrete model with encrypted fields, and those fields."""
    from django.apps import apps

    found: dict[type[models.Model], list[EncryptedMixin]] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]
        if fields:
            found[model] = fields
    return found


def key_ids_in_use() -> dict[str, int]:
    """Count stored ciphertexts per key id, reading the raw columns (nothing is decrypted)."""
    from collections import Counter

    from django.db import connection

    counts: Counter[str] = Counter()
    for model, fields in encrypted_fields_by_model().items():
        table = connection.ops.quote_name(model._meta.db_table)
        for field in fields:
            column = connection.ops.quote_name(field.column)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")  # noqa: S608 - names from model meta
                for (raw,) in cursor.fetchall():
                    counts[crypto.key_id_of(bytes(raw))] += 1
    return dict(counts)
