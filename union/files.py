"""Encrypted files on disk, outside any public URL: the storage primitive of evidence and documents.

A file lives at MEDIA_ROOT/<folder>/<name>.bin under a random name, encrypted with the data key
ring (`union.crypto`). Its associated data is "<folder>/<name>", followed by "|" and the values of
the row fields the model names in `StoredFileField(aad_fields=...)`: a file copied over another
does not decrypt, and neither does a file whose row was edited to claim another owner, version or
hash. Nothing under MEDIA_ROOT is ever served directly; views read files back through access checks.

Models declare where their files are with `StoredFileField`, so key rotation
(`manage.py rotate_data_keys`) finds every encrypted file of every model, as it finds every
encrypted column, without a list to keep up to date.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models

from union import crypto


def _path(folder: str, name: str) -> Path:
    # Names are ours (token_hex), but a row could be edited: refuse anything that is not a plain name.
    if not name or not name.isalnum() or not folder.isidentifier():
        raise ValueError("bad storage name")
    return Path(settings.MEDIA_ROOT) / folder / f"{name}.bin"


def new_name() -> str:
    return secrets.token_hex(16)


def _aad(folder: str, name: str, extra: str) -> bytes:
    return f"{folder}/{name}".encode() + (b"|" + extra.encode() if extra else b"")


def _write_atomically(path: Path, blob: bytes) -> None:
    """Write to a temporary file, flush it to disk, then rename over `path`: a reader sees the old
    file or the new one, never half of one, even if the machine stops in the middle."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(blob)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write(folder: str, name: str, content: bytes, *, extra: str = "") -> None:
    """Encrypt `content` under the primary key and write it as `name` in `folder`."""
    _write_atomically(_path(folder, name), crypto.encrypt(content, aad=_aad(folder, name, extra)))


def store(folder: str, content: bytes, *, extra: str = "") -> str:
    """Encrypt and write `content` under a new random name; return the name."""
    name = new_name()
    write(folder, name, content, extra=extra)
    return name


def load(folder: str, name: str, *, extra: str = "") -> bytes:
    """The decrypted file; raises crypto.DecryptionError if it was swapped, edited or its key is gone."""
    return crypto.decrypt(_path(folder, name).read_bytes(), aad=_aad(folder, name, extra))


def remove(folder: str, name: str) -> None:
    _path(folder, name).unlink(missing_ok=True)


def key_id(folder: str, name: str) -> str:
    """The id of the key a file is encrypted with, read from its header (nothing is decrypted)."""
    with open(_path(folder, name), "rb") as handle:
        return crypto.key_id_of(handle.read(3 + 255))


def rekey(folder: str, name: str, *, extra: str = "") -> bool:
    """Re-encrypt the file under the primary key if it uses another one; True if it was rewritten.

    The plaintext is decrypted and encrypted again with the same associated data, then written
    atomically: until the rename the old file (still readable with the old key) stays in place.
    """
    if key_id(folder, name) == crypto.key_ring().primary_id:
        return False
    write(folder, name, load(folder, name, extra=extra), extra=extra)
    return True


class StoredFileField(models.CharField):
    """The storage name of an encrypted file in MEDIA_ROOT/`folder`/, bound to `aad_fields` of its row."""

    description = "Name of a file encrypted on disk"

    def __init__(self, *args: Any, folder: str, aad_fields: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.folder = folder
        self.aad_fields = tuple(aad_fields)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["folder"] = self.folder
        if self.aad_fields:
            kwargs["aad_fields"] = self.aad_fields
        for key, default in (("max_length", 64), ("unique", True), ("editable", False)):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    def extra_for(self, instance: models.Model) -> str:
        return "|".join(str(getattr(instance, field)) for field in self.aad_fields)

    def write(self, instance: models.Model, content: bytes) -> None:
        write(self.folder, getattr(instance, self.attname), content, extra=self.extra_for(instance))

    def load(self, instance: models.Model) -> bytes:
        return load(self.folder, getattr(instance, self.attname), extra=self.extra_for(instance))

    def rekey(self, instance: models.Model) -> bool:
        return rekey(self.folder, getattr(instance, self.attname), extra=self.extra_for(instance))

    def remove(self, instance: models.Model) -> None:
        remove(self.folder, getattr(instance, self.attname))


def stored_file_fields_by_model() -> dict[type[models.Model], list[StoredFileField]]:
    """Every concrete model that keeps encrypted files, and the fields naming them."""
    from django.apps import apps

    found: dict[type[models.Model], list[StoredFileField]] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, StoredFileField)]
        if fields:
            found[model] = fields
    return found


def file_key_ids_in_use() -> dict[str, int]:
    """Count stored files per key id, reading only their headers. A missing file counts as "missing"."""
    from collections import Counter

    counts: Counter[str] = Counter()
    for model, fields in stored_file_fields_by_model().items():
        for field in fields:
            names = model._base_manager.exclude(**{field.attname: ""}).values_list(field.attname, flat=True)
            for name in names.iterator(chunk_size=2000):
                try:
                    counts[key_id(field.folder, name)] += 1
                except FileNotFoundError:
                    counts["missing"] += 1
    return dict(counts)
