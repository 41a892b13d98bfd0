"""Parser fuzzing (spec §5.4), seeded and repeatable: every receiver of server-supplied JSON, given
a randomly damaged envelope, commit, wrap, device list, backup item or KDF parameters, either
accepts an unchanged object or raises UR1Error, never another exception (fail closed on one type).

A small mutation fuzzer of our own: Hypothesis is not a dependency of the project.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest

from messaging import ur1
from tests.messaging.ur1_data import chain, device_lists, epoch_secret, people, vectors

V = vectors()
ITERATIONS = 400
ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, 2**53, 2**64, "", "=", "AAAA", "A" * 22, "AAAAAAAAAAAAAAAAAAAAA=",
                         "__proto__", "ü", "\x00", [], {}, [1], {"a": 1}, "ure2e/v1/msg"]


def mutate(obj: Any, rng: random.Random) -> Any:
    """One random damage somewhere in a JSON value: replace, delete, add, or edit a string."""
    if isinstance(obj, dict) and obj and rng.random() < 0.7:
        key = rng.choice(sorted(obj))
        action = rng.random()
        out = dict(obj)
        if action < 0.15:
            del out[key]
        elif action < 0.25:
            out[rng.choice(["x", "preview", key + "_"])] = rng.choice(ODD_VALUES)
        else:
            out[key] = mutate(obj[key], rng)
        return out
    if isinstance(obj, list) and obj and rng.random() < 0.7:
        out_list = list(obj)
        index = rng.randrange(len(obj))
        action = rng.random()
        if action < 0.2:
            del out_list[index]
        elif action < 0.35:
            out_list.append(copy.deepcopy(obj[index]))
        else:
            out_list[index] = mutate(obj[index], rng)
        return out_list
    if isinstance(obj, str) and obj and rng.random() < 0.6:
        chars = list(obj)
        index = rng.randrange(len(chars))
        chars[index] = rng.choice("AB_-=+/ 0zé")
        return "".join(chars)
    if isinstance(obj, int) and not isinstance(obj, bool) and rng.random() < 0.5:
        return obj + rng.choice([-1, 1, 2**32, 2**63])
    return rng.choice(ODD_VALUES)


# Parsers of unauthenticated values: another valid value is fine (a QR code of another user,
# parameters with a higher cost or another salt); only the exception type is checked.
UNSIGNED = {"backup params", "qr code"}


def receivers() -> dict[str, tuple[Any, Callable[[Any], object]]]:
    bob = people()["bob"]
    backup = V["backup"]
    bk = ur1.backup_key(ur1.derive_root(backup["passphrase"], backup["params"]), backup["user"])
    wrap = next(w for w in V["wraps"] if w["epoch"] == 2 and w["to_user"] == bob.user)
    return {
        "envelope": (V["messages"]["m2"]["env"], lambda obj: ur1.open_message(
            obj, room=V["room"], accepted=chain()[2], es=epoch_secret(2), replay=ur1.ReplaySet())),
        "commit": (V["commits"][2], lambda obj: ur1.accept_commit(
            obj, room=V["room"], previous=chain()[1], pins={}, device_lists=device_lists())),
        "genesis": (V["commits"][0], lambda obj: ur1.accept_commit(
            obj, room=V["room"], previous=None, pins={}, device_lists=device_lists())),
        "wrap": (wrap, lambda obj: ur1.open_wrap(obj, chain()[2], my_user=bob.user, my_device=bob.device,
                                                 dek_secret=bob.dek_sk)),
        "device list": (bob.raw["devlist"], ur1.parse_device_list),
        "backup item": (backup["item"], lambda obj: ur1.open_item(bk, backup["user"], obj)),
        "backup params": (backup["params"], ur1.check_params),
        "epoch item payload": ({"room": V["room"], "epoch": 1, "commit": V["wraps"][0]["commit"],
                                "es": ur1.b64u_encode(epoch_secret(1))},
                               lambda obj: ur1.restore_epoch_secret(obj, chain()[1])),
        "qr code": (ur1.qr_payload(bob.user, ur1.ed25519_public(bob.msk_seed)), ur1.parse_qr_payload),
    }


@pytest.mark.parametrize("kind", list(receivers()))
def test_damaged_input_fails_closed_with_ur1error_only(kind: str) -> None:
    valid, receive = receivers()[kind]
    receive(copy.deepcopy(valid))  # the undamaged object is accepted
    rng = random.Random(f"ur1-fuzz-{kind}")
    refused = 0
    for _ in range(ITERATIONS):
        damaged = mutate(copy.deepcopy(valid), rng)
        try:
            receive(damaged)
        except ur1.UR1Error:
            refused += 1
        else:
            assert damaged == valid or kind in UNSIGNED, f"{kind}: accepted a damaged object {damaged!r}"
    assert refused > ITERATIONS * (0.5 if kind in UNSIGNED else 0.9)
