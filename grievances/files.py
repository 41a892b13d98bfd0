"""Encrypted file storage for evidence and letters, outside any public URL.

Files live under MEDIA_ROOT/<folder>/ with random names, each encrypted with the data key ring and
bound to its own storage name, so a file copied over another does not decrypt. Nothing under
MEDIA_ROOT is ever served directly: views read files back through access checks.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings

from union import crypto


def _path(folder: str, name: str) -> Path:
    if not name.isalnum():
        raise ValueError("bad storage name")
    return Path(settings.MEDIA_ROOT) / folder / f"{name}.bin"


def store(folder: str, content: bytes) -> str:
    """Encrypt and write `content`; return its storage name."""
    name = secrets.token_hex(16)
    path = _path(folder, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(crypto.encrypt(content, aad=f"{folder}/{name}".encode()))
    os.replace(tmp, path)
    return name


def load(folder: str, name: str) -> bytes:
    return crypto.decrypt(_path(folder, name).read_bytes(), aad=f"{folder}/{name}".encode())


def remove(folder: str, name: str) -> None:
    _path(folder, name).unlink(missing_ok=True)
