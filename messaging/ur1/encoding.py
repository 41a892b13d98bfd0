"""UR1 encodings (spec §4.1): integers, length prefixes, lists, strict base64url, identifiers.

Nothing in UR1 is signed, MACed or hashed as JSON: every to-be-signed string, AAD and HPKE `info` is
built from these fixed-width and length-prefixed fields, so two implementations agree byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1  # §4.1: integers in JSON are non-negative safe integers
_B64U_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class UR1Error(Exception):
    """Every UR1 check that fails raises this, and nothing else: callers fail closed on one type."""


def u32(n: int) -> bytes:
    if not 0 <= n < 2**32:
        raise UR1Error("u32 out of range")
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    if not 0 <= n < 2**64:
        raise UR1Error("u64 out of range")
    return n.to_bytes(8, "big")


def lp(x: bytes | str) -> bytes:
    """`u32(len(x)) ‖ x`; strings are UTF-8 first."""
    data = x.encode("utf-8") if isinstance(x, str) else bytes(x)
    return u32(len(data)) + data


def lst(items: Iterable[bytes]) -> bytes:
    """`u32(count) ‖ item₁ ‖ … ‖ itemₙ`."""
    parts = list(items)
    return u32(len(parts)) + b"".join(parts)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, length: int | None = None) -> bytes:
    """Strict RFC 4648 §5 base64url without padding (§4.1).

    Refuses `=`, `+`, `/`, whitespace, a length ≡ 1 (mod 4) and non-canonical trailing bits
    (decode, re-encode, compare), and, when `length` is given, any other decoded length.
    """
    if not isinstance(text, str) or not _B64U_ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise UR1Error("invalid base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u_encode(data) != text:
        raise UR1Error("non-canonical base64url")
    if length is not None and len(data) != length:
        raise UR1Error("wrong decoded length")
    return data


def check_user_id(value: Any) -> str:
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        raise UR1Error("invalid user id")
    return value


def check_id16(value: Any) -> str:
    """`device_id` and `room_id`: 16 random bytes as b64u, 22 characters (§4.1)."""
    if not isinstance(value, str):
        raise UR1Error("invalid identifier")
    b64u_decode(value, 16)
    return value


def check_int(value: Any, *, minimum: int = 0) -> int:
    # bool is an int in Python and `true` is not a number in JSON: refuse it.
    if type(value) is not int or not minimum <= value <= MAX_SAFE_INTEGER:
        raise UR1Error("invalid integer")
    return value


def check_str(value: Any) -> str:
    if not isinstance(value, str):
        raise UR1Error("invalid string")
    return value


def check_keys(obj: Any, keys: Iterable[str]) -> Mapping[str, Any]:
    """A JSON object with exactly these keys: no missing field, no extra field (strict parse)."""
    if not isinstance(obj, Mapping) or set(obj) != set(keys):
        raise UR1Error("unexpected object shape")
    return obj


def check_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UR1Error("invalid list")
    return value


def utf8_sort_key(value: str) -> bytes:
    """Sorting is by the byte order of the UTF-8 strings (§4.4)."""
    return value.encode("utf-8")
