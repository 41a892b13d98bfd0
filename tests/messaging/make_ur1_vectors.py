"""Write a UR1 vectors file of the same schema as ur1-vectors.json, made by the Python client.

    .venv/bin/python -m tests.messaging.make_ur1_vectors OUT.json [--label "some seed label "]

Every seed is SHA-256(label ‖ name), as in spec §5.1; a label other than the spec's gives a fresh,
independent set, so "Python-made vectors are reproduced byte for byte in JS" (§5.1) can be checked:
`UR1_VECTORS=OUT.json` runs it through both clients (tests/browser/test_ur1_js.py does so itself).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from messaging import ur1

DEFAULT_VECTORS = Path(__file__).resolve().parent / "data" / "ur1-vectors.json"
NAMES = ("alice", "bob", "carol")
T0 = 1767225600


def make_vectors(label: str) -> dict[str, Any]:
    def seed(name: str) -> bytes:
        return hashlib.sha256(label.encode() + name.encode()).digest()

    people: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        msk, dsk, dek = seed(f"{name}/msk"), seed(f"{name}/dsk"), seed(f"{name}/dek")
        user, device_id = f"u_{name}", ur1.b64u_encode(seed(f"{name}/device")[:16])
        entry = ur1.Device(id=device_id, dsk=ur1.ed25519_public(dsk), dek=ur1.x25519_public(dek), added=T0)
        people[name] = {
            "user": user, "device": device_id, "msk_seed": msk.hex(), "msk_pub": ur1.ed25519_public(msk).hex(),
            "dsk_seed": dsk.hex(), "dsk_pub": ur1.ed25519_public(dsk).hex(), "dek_sk": dek.hex(),
            "dek_pub": ur1.x25519_public(dek).hex(), "fingerprint": ur1.safety_number(user, ur1.ed25519_public(msk)),
            "devlist": ur1.sign_device_list(msk, user, 1, [entry]),
        }
    room = ur1.b64u_encode(seed("room")[:16])
    secrets = [seed(f"epoch{i}") for i in range(3)]
    lists = {p["user"]: [ur1.parse_device_list(p["devlist"])] for p in people.values()}

    def member(name: str, role: str) -> ur1.Member:
        return ur1.Member(user=people[name]["user"], msk=bytes.fromhex(people[name]["msk_pub"]), role=role)

    def device(name: str) -> ur1.CommitDevice:
        p = people[name]
        return ur1.CommitDevice(user=p["user"], device=p["device"], dek=bytes.fromhex(p["dek_pub"]),
                                dsk=bytes.fromhex(p["dsk_pub"]))

    rosters = [["alice"], ["alice", "bob", "carol"], ["alice", "bob"]]
    commits: list[dict[str, Any]] = []
    accepted: list[ur1.AcceptedCommit] = []
    alice = people["alice"]
    for epoch, names in enumerate(rosters):
        commit = ur1.Commit(room=room, epoch=epoch, prev=accepted[-1].commit_id if accepted else b"",
                            author_user=alice["user"], author_device=alice["device"],
                            members=tuple(member(n, "admin" if n == "alice" else "member") for n in names),
                            devices=tuple(device(n) for n in names),
                            kc=ur1.key_commitment(secrets[epoch], room, epoch), ts=T0 + 100 * epoch)
        signed = ur1.sign_commit(bytes.fromhex(alice["dsk_seed"]), commit)
        accepted.append(ur1.accept_commit(signed, room=room, previous=accepted[-1] if accepted else None, pins={},
                                          device_lists=lists))
        commits.append(signed)
    wraps, ephemeral = [], {}
    for epoch in (1, 2):
        for name in rosters[epoch]:
            tag = f"{epoch}/u_{name}"
            ephemeral[tag] = seed(f"eph/{tag}").hex()
            wraps.append(ur1.make_wrap(secrets[epoch], accepted[epoch], f"u_{name}", people[name]["device"],
                                       ephemeral_secret=bytes.fromhex(ephemeral[tag])))
    bob = people["bob"]
    bodies: dict[str, tuple[str, int, dict[str, Any]]] = {"m1": ("bob", 1, {"type": "text", "text": "Card drive at the canteen — 12:30, bring pens 🖊",
                                "ts": (T0 + 150) * 1000}),
              "m2": ("alice", 2, {"type": "text", "text": "Carol is out; new epoch.", "ts": (T0 + 300) * 1000})}
    messages: dict[str, dict[str, Any]] = {}
    nonces: dict[str, str] = {}
    for key, (name, epoch, body) in bodies.items():
        p = people[name]
        nonces[key] = seed(f"nonce/{key}")[:12].hex()
        env = ur1.seal_message(ur1.encode_body(body), es=secrets[epoch], accepted=accepted[epoch], user=p["user"],
                               device=p["device"], ctr=0, dsk_seed=bytes.fromhex(p["dsk_seed"]),
                               nonce=bytes.fromhex(nonces[key]))
        messages[key] = {"env": env, "body": body, "es_epoch": epoch} if key == "m1" else {"env": env, "es_epoch": epoch}
    params = ur1.new_params(salt=seed("backup/salt")[:16])
    passphrase = "Ngũgĩ, sauti ya wafanyakazi"
    bk = ur1.backup_key(ur1.derive_root(passphrase, params), bob["user"])
    backup_nonce = seed("backup/nonce")[:12]
    item = ur1.seal_item(bk, bob["user"], "epoch", {"room": room, "epoch": 1,
                                                   "commit": ur1.b64u_encode(accepted[1].commit_id),
                                                   "es": ur1.b64u_encode(secrets[1])},
                         ver=1, item_id=ur1.b64u_encode(seed("backup/id")[:16]), nonce=backup_nonce)
    m1 = messages["m1"]["env"]
    return {
        "description": f"UR1 vectors made by messaging/ur1 (Python). Seeds = SHA-256({label!r} || name).",
        "people": people, "room": room, "epoch_secrets": [s.hex() for s in secrets], "commits": commits,
        "commit_tbs_hex": [ur1.commit_tbs(a.commit).hex() for a in accepted],
        "commit_ids": [a.commit_id.hex() for a in accepted],
        "key_commitments": [a.commit.kc.hex() for a in accepted],
        "sender_key_bob_e1": ur1.sender_key(secrets[1], room, 1, bob["user"], bob["device"]).hex(),
        "msg_aad_m1_hex": ur1.message_aad(room, 1, accepted[1].commit_id, m1["sender"]["user"],
                                          m1["sender"]["device"], m1["ctr"]).hex(),
        "wraps": wraps, "wrap_ephemeral_seeds": ephemeral, "messages": messages, "message_nonces": nonces,
        "backup": {"user": bob["user"], "passphrase": passphrase, "params": params, "backup_key": bk.hex(),
                   "item": item, "nonce": backup_nonce.hex()},
        # RFC 9180 A.1 is a fixed external vector: copied as is.
        "rfc9180_a1": json.loads(DEFAULT_VECTORS.read_text(encoding="utf-8"))["rfc9180_a1"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--label", default="tessera ur1 python-made seed ")
    args = parser.parse_args()
    args.out.write_text(json.dumps(make_vectors(args.label), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()


