"""The UR1 known-answer vectors, read from the file named by UR1_VECTORS (default: our copy).

Shared by the Python vector and attack tests and the Chromium test, so that any vectors file of
the same schema is checked by the same command in both implementations.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from messaging import ur1

DEFAULT_VECTORS = Path(__file__).resolve().parent / "data" / "ur1-vectors.json"


def vectors_path() -> Path:
    return Path(os.environ.get("UR1_VECTORS") or DEFAULT_VECTORS)


@cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(vectors_path().read_text(encoding="utf-8"))
    return loaded


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@dataclass(frozen=True)
class Person:
    name: str
    user: str
    device: str
    msk_seed: bytes
    dsk_seed: bytes
    dek_sk: bytes
    raw: dict[str, Any]


def people() -> dict[str, Person]:
    return {name: Person(name, p["user"], p["device"], h(p["msk_seed"]), h(p["dsk_seed"]), h(p["dek_sk"]), p)
            for name, p in vectors()["people"].items()}


def person_by_user(user: str) -> Person:
    return next(p for p in people().values() if p.user == user)


@cache
def _parsed_device_lists() -> tuple[tuple[str, ur1.DeviceList], ...]:
    return tuple((p.user, ur1.parse_device_list(p.raw["devlist"])) for p in people().values())


def device_lists() -> dict[str, list[ur1.DeviceList]]:
    """A fresh mapping each call (tests add versions to it); the lists themselves are immutable."""
    return {user: [parsed] for user, parsed in _parsed_device_lists()}


def chain() -> list[ur1.AcceptedCommit]:
    return list(_chain())


@cache
def _chain() -> tuple[ur1.AcceptedCommit, ...]:
    """The vectors' commits accepted in order from genesis, with no pins yet (TOFU)."""
    accepted: list[ur1.AcceptedCommit] = []
    pins: dict[str, ur1.Pin] = {}
    for commit in vectors()["commits"]:
        one = ur1.accept_commit(commit, room=vectors()["room"], previous=accepted[-1] if accepted else None,
                                pins=pins, device_lists=device_lists())
        pins.update(one.new_pins)
        accepted.append(one)
    return tuple(accepted)


def epoch_secret(epoch: int) -> bytes:
    return h(vectors()["epoch_secrets"][epoch])
