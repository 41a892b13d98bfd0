"""The tamper and attack list of spec §5.2, through the Python client: each one fails closed with
UR1Error (and nothing else), while the honest variant beside it is accepted.

Items 12 (two admins racing, server 409) and 13 (two tabs, one IndexedDB) need the server and the
browser storage layer of the rooms, which are not built yet; they are not here.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from messaging import ur1
from messaging.ur1.message import pad, sender_key
from messaging.ur1.primitives import AEAD_AES_256_GCM, aead_open, aead_seal, ed25519_sign, hpke_seal_base
from tests.messaging.ur1_data import chain, device_lists, epoch_secret, h, people, vectors

V = vectors()
ROOM = V["room"]
P = people()
ALICE, BOB, CAROL = P["alice"], P["bob"], P["carol"]


def fails(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ur1.UR1Error) as info:
        action(*args, **kwargs)
    if os.environ.get("UR1_SHOW"):
        print(os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], "->", info.value)


def m2() -> dict[str, Any]:
    return copy.deepcopy(V["messages"]["m2"]["env"])


def open_at(env: dict[str, Any], epoch: int = 2, *, replay: ur1.ReplaySet | None = None,
            accepted: ur1.AcceptedCommit | None = None, es: bytes | None = None, room: str = ROOM) -> ur1.OpenedMessage:
    return ur1.open_message(env, room=room, accepted=accepted or chain()[epoch],
                            es=epoch_secret(epoch) if es is None else es, replay=replay or ur1.ReplaySet())


def flip(text: str, byte: int, bit: int = 0) -> str:
    data = bytearray(ur1.b64u_decode(text))
    data[byte] ^= 1 << bit
    return ur1.b64u_encode(bytes(data))


def inner_message(env: dict[str, Any], epoch: int, tamper: Callable[[bytes, bytes], tuple[bytes, bytes]]) -> dict[str, Any]:
    """Re-encrypt a message after changing its signature or padding: what a holder of `es` can do."""
    accepted = chain()[epoch]
    e = dict(env)
    key = sender_key(epoch_secret(epoch), ROOM, epoch, e["sender"]["user"], e["sender"]["device"])
    aad = ur1.message_aad(ROOM, epoch, accepted.commit_id, e["sender"]["user"], e["sender"]["device"], e["ctr"])
    plain = aead_open(key, ur1.b64u_decode(e["n"]), ur1.b64u_decode(e["ct"]), aad)
    sig, padded = tamper(plain[:64], plain[64:])
    e["ct"] = ur1.b64u_encode(aead_seal(key, ur1.b64u_decode(e["n"]), sig + padded, aad))
    return e


def sign_inner(signer_seed: bytes, epoch: int, env: dict[str, Any], padded: bytes) -> bytes:
    accepted = chain()[epoch]
    aad = ur1.message_aad(ROOM, epoch, accepted.commit_id, env["sender"]["user"], env["sender"]["device"], env["ctr"])
    return ed25519_sign(signer_seed, ur1.lp("ure2e/v1/msg-sig") + ur1.lp(aad) + ur1.lp(accepted.commit.kc)
                        + ur1.lp(ur1.message.sha256(padded)))


# --- 1. bit flips, truncation, padding characters ------------------------------------------------

def test_honest_message_opens() -> None:
    assert open_at(m2()).user == "u_alice"


@pytest.mark.parametrize("where", ["first", "middle", "signature", "padding", "tag"])
def test_1_flipped_ciphertext_bit(where: str) -> None:
    env = m2()
    size = len(ur1.b64u_decode(env["ct"]))
    env["ct"] = flip(env["ct"], {"first": 0, "middle": size // 2, "signature": 40, "padding": size - 40,
                                 "tag": size - 1}[where])
    fails(lambda: open_at(env))


def test_1_flipped_nonce_bit() -> None:
    env = m2()
    env["n"] = flip(env["n"], 5, 3)
    fails(lambda: open_at(env))


def test_1_flipped_signature_bit_inside_valid_encryption() -> None:
    env = inner_message(m2(), 2, lambda sig, padded: (bytes([sig[0] ^ 1]) + sig[1:], padded))
    fails(lambda: open_at(env))


def test_1_flipped_padding_bit_inside_valid_encryption() -> None:
    env = inner_message(m2(), 2, lambda sig, padded: (sig, padded[:-1] + b"\x01"))
    fails(lambda: open_at(env))


def _replace_plaintext(signature: bytes, padded: bytes, _sig: bytes, _padded: bytes) -> tuple[bytes, bytes]:
    return signature, padded


def test_1_bad_padding_even_when_signed() -> None:
    """A padding without its 0x80 end, or of the wrong bucket, is refused even under a valid signature."""
    env = m2()
    for padded in (b"hello" + bytes(251), pad(b"hello") + bytes(256)):
        signature = sign_inner(ALICE.dsk_seed, 2, env, padded)
        fails(open_at, inner_message(env, 2, partial(_replace_plaintext, signature, padded)))


def test_1_truncated_ciphertext_and_appended_padding() -> None:
    for mutate in (lambda e: e.update(ct=e["ct"][:-4]), lambda e: e.update(ct=e["ct"] + "="),
                   lambda e: e.update(n=e["n"] + "="), lambda e: e.update(ct=e["ct"][:40])):
        env = m2()
        mutate(env)
        fails(open_at, env)


# --- 2. header fields changed, message moved -----------------------------------------------------------

@pytest.mark.parametrize("field", ["room", "epoch", "commit", "ctr", "sender.user", "sender.device", "suite", "v", "t"])
def test_2_changed_header_field(field: str) -> None:
    env = m2()
    other = {"room": "AAAAAAAAAAAAAAAAAAAAAA", "epoch": 1, "commit": V["messages"]["m1"]["env"]["commit"], "ctr": 1,
             "sender.user": "u_bob", "sender.device": BOB.device, "suite": "UR2", "v": 2, "t": "wrap"}[field]
    if field.startswith("sender."):
        env["sender"][field.split(".")[1]] = other
    else:
        env[field] = other
    fails(lambda: open_at(env))
    if field == "epoch":  # the receiver holding epoch 1's commit and secret still refuses it
        fails(lambda: open_at(env, 1))


def test_2_message_moved_into_another_room_or_epoch() -> None:
    env = m2()
    other_room = "BBBBBBBBBBBBBBBBBBBBBA"
    fails(lambda: open_at(env, room=other_room))
    env1 = m2()
    env1.update(epoch=1, commit=V["messages"]["m1"]["env"]["commit"])
    fails(lambda: open_at(env1, 1))  # right epoch-1 context, but sealed in epoch 2
    moved = copy.deepcopy(V["messages"]["m1"]["env"])
    fails(lambda: open_at(moved, 2))


def test_2_extra_or_missing_envelope_field() -> None:
    env = m2()
    env["preview"] = "plaintext"
    fails(lambda: open_at(env))
    env = m2()
    del env["n"]
    fails(lambda: open_at(env))


# --- 3. insider impersonation --------------------------------------------------------------------

def test_3_member_who_knows_es_cannot_send_as_another_device() -> None:
    """Bob, who holds epoch 2's secret, seals under Alice's sender key and signs with his own DSK."""
    accepted = chain()[2]
    forged = ur1.seal_message(b'{"type":"text","text":"strike is off"}', es=epoch_secret(2), accepted=accepted,
                              user=ALICE.user, device=ALICE.device, ctr=7, dsk_seed=BOB.dsk_seed)
    fails(lambda: open_at(forged))
    honest = ur1.seal_message(b'{"type":"text","text":"hi"}', es=epoch_secret(2), accepted=accepted,
                              user=BOB.user, device=BOB.device, ctr=7, dsk_seed=BOB.dsk_seed)
    assert open_at(honest).user == BOB.user


# --- 4. replay ------------------------------------------------------------------------------------------

def test_4_replay_refused_and_reordering_accepted_once_each() -> None:
    accepted = chain()[2]
    replay = ur1.ReplaySet()
    sealed = [ur1.seal_message(f'{{"n":{i}}}'.encode(), es=epoch_secret(2), accepted=accepted, user=BOB.user,
                               device=BOB.device, ctr=i, dsk_seed=BOB.dsk_seed) for i in range(3)]
    for i in (2, 0, 1):
        assert open_at(sealed[i], replay=replay).ctr == i
    for env in sealed:
        fails(open_at, env, replay=replay)
    # A forged envelope for a future counter does not burn it.
    future = ur1.seal_message(b"{}", es=epoch_secret(2), accepted=accepted, user=BOB.user, device=BOB.device,
                              ctr=3, dsk_seed=BOB.dsk_seed)
    bad = dict(future, ct=flip(future["ct"], 3))
    fails(lambda: open_at(bad, replay=replay))
    assert open_at(future, replay=replay).ctr == 3


# --- 5. removed member, revoked device -------------------------------------------------------------

def test_5_removed_member_cannot_read_the_new_epoch() -> None:
    assert not [w for w in V["wraps"] if w["epoch"] == 2 and w["to_user"] == CAROL.user]  # no epoch-2 wrap
    fails(lambda: open_at(m2(), es=epoch_secret(1)))  # her epoch-1 secret
    fails(lambda: open_at(m2(), es=ur1.sender_key(epoch_secret(1), ROOM, 1, CAROL.user, CAROL.device)))
    for w in (x for x in V["wraps"] if x["epoch"] == 2):
        fails(ur1.open_wrap, w, chain()[2], my_user=CAROL.user, my_device=CAROL.device, dek_secret=CAROL.dek_sk)
        # Even with the context relabelled as hers, her DEK does not open the HPKE ciphertext.
        info = ur1.wrap_info(ROOM, 2, chain()[2].commit_id, w["to_user"], w["to_device"])
        fails(ur1.hpke_open_native, CAROL.dek_sk, info, ur1.b64u_decode(w["w"]))
    # Her own epoch-1 wrap still opens: she keeps what she could read.
    mine = next(w for w in V["wraps"] if w["epoch"] == 1 and w["to_user"] == CAROL.user)
    assert ur1.open_wrap(mine, chain()[1], my_user=CAROL.user, my_device=CAROL.device,
                         dek_secret=CAROL.dek_sk) == epoch_secret(1)


def test_5_revoked_device_gets_no_wrap_and_cannot_open() -> None:
    """Bob revokes a second device (self-device commit); the revoked device is out of epoch 4."""
    second, dsk2, dek2 = extra_device()
    lists = with_bob_lists(second)
    e3 = commit_after(chain()[2], BOB, devices_add=[second_commit_device(second)], es=os.urandom(32))
    a3 = ur1.accept_commit(e3, room=ROOM, previous=chain()[2], pins={}, device_lists=lists)
    es4 = os.urandom(32)
    e4 = commit_after(a3, BOB, devices_remove=[second.id], es=es4)
    a4 = ur1.accept_commit(e4, room=ROOM, previous=a3, pins={}, device_lists=lists)
    fails(lambda: ur1.make_wrap(es4, a4, BOB.user, second.id))
    wrap = ur1.make_wrap(es4, a4, BOB.user, BOB.device)
    fails(lambda: ur1.open_wrap(wrap, a4, my_user=BOB.user, my_device=second.id, dek_secret=dek2))
    assert ur1.open_wrap(wrap, a4, my_user=BOB.user, my_device=BOB.device, dek_secret=BOB.dek_sk) == es4


# --- commit helpers ------------------------------------------------------------------------------------

def extra_device() -> tuple[ur1.Device, bytes, bytes]:
    dsk, dek = h("11" * 32), h("22" * 32)
    device = ur1.Device(id=ur1.b64u_encode(b"\x07" * 16), dsk=ur1.ed25519_public(dsk), dek=ur1.x25519_public(dek),
                        added=1767226000)
    return device, dsk, dek


def second_commit_device(device: ur1.Device) -> ur1.CommitDevice:
    return ur1.CommitDevice(user=BOB.user, device=device.id, dek=device.dek, dsk=device.dsk)


def with_bob_lists(second: ur1.Device) -> dict[str, list[ur1.DeviceList]]:
    lists = device_lists()
    v1 = lists[BOB.user][0]
    v2 = ur1.parse_device_list(ur1.sign_device_list(BOB.msk_seed, BOB.user, 2, [*v1.devices, second]))
    lists[BOB.user] = [v1, v2]
    return lists


def commit_after(previous: ur1.AcceptedCommit, author: Any, *, es: bytes, members: list[ur1.Member] | None = None,
                 devices_add: list[ur1.CommitDevice] | None = None, devices_remove: list[str] | None = None,
                 epoch: int | None = None, prev: bytes | None = None) -> dict[str, Any]:
    prior = previous.commit
    epoch = prior.epoch + 1 if epoch is None else epoch
    devices = [d for d in prior.devices if d.device not in (devices_remove or [])] + (devices_add or [])
    commit = dataclasses.replace(prior, epoch=epoch, prev=previous.commit_id if prev is None else prev,
                                 author_user=author.user, author_device=author.device,
                                 members=tuple(members) if members is not None else prior.members,
                                 devices=tuple(devices), kc=ur1.key_commitment(es, ROOM, epoch), ts=prior.ts + 100,
                                 sig=b"")
    return ur1.sign_commit(author.dsk_seed, commit)


def accept(obj: dict[str, Any], previous: ur1.AcceptedCommit, **kwargs: Any) -> ur1.AcceptedCommit:
    return ur1.accept_commit(obj, room=ROOM, previous=previous, pins=kwargs.get("pins", {}),
                             device_lists=kwargs.get("device_lists", device_lists()))


# --- 6. membership forgery -------------------------------------------------------------------------------

def test_6_server_adds_a_member_or_device_to_a_signed_commit() -> None:
    add_member = copy.deepcopy(V["commits"][2])
    add_member["members"].append({"user": CAROL.user, "msk": CAROL.raw["devlist"]["msk"], "role": "member"})
    add_member["devices"].append(copy.deepcopy(V["commits"][1]["devices"][2]))
    fails(lambda: accept(add_member, chain()[1]))
    add_device = copy.deepcopy(V["commits"][2])
    add_device["devices"].append(dict(add_device["devices"][1], device=ur1.b64u_encode(b"\x09" * 16)))
    fails(lambda: accept(add_device, chain()[1]))


def test_6_commit_by_a_non_admin_is_rejected() -> None:
    alice_only = [m for m in chain()[2].commit.members if m.user == ALICE.user]
    fails(lambda: accept(commit_after(chain()[2], BOB, members=[*alice_only], es=os.urandom(32),
                                      devices_remove=[BOB.device]), chain()[2]))


def test_6_non_admin_self_promotion_is_rejected() -> None:
    promoted = [dataclasses.replace(m, role="admin") for m in chain()[2].commit.members]
    fails(lambda: accept(commit_after(chain()[2], BOB, members=promoted, es=os.urandom(32)), chain()[2]))


def test_6_non_admin_touching_another_users_devices_is_rejected() -> None:
    fails(lambda: accept(commit_after(chain()[2], BOB, devices_remove=[ALICE.device], es=os.urandom(32)), chain()[2]))


def test_6_self_device_commit_is_accepted() -> None:
    second, _dsk, _dek = extra_device()
    obj = commit_after(chain()[2], BOB, devices_add=[second_commit_device(second)], es=os.urandom(32))
    accepted = accept(obj, chain()[2], device_lists=with_bob_lists(second))
    assert accepted.commit.device(BOB.user, second.id) is not None
    # ...but not with a device that is on none of Bob's signed device lists.
    fails(lambda: accept(obj, chain()[2]))


def test_6_genesis_by_a_non_admin_is_rejected() -> None:
    genesis = chain()[0].commit
    as_member = dataclasses.replace(genesis, members=(dataclasses.replace(genesis.members[0], role="member"),),
                                    sig=b"")
    fails(lambda: ur1.accept_commit(ur1.sign_commit(ALICE.dsk_seed, as_member), room=ROOM, previous=None, pins={},
                                    device_lists=device_lists()))


# --- 7. MSK substitution, device-list rollback -------------------------------------------------------------

def test_7_msk_substitution_in_a_commit_is_rejected() -> None:
    pins = {p.user: ur1.Pin(msk=ur1.ed25519_public(p.msk_seed), verified=True) for p in P.values()}
    accept(V["commits"][2], chain()[1], pins=pins)  # honest: accepted
    pins[BOB.user] = ur1.Pin(msk=ur1.ed25519_public(h("33" * 32)), verified=True)
    fails(lambda: accept(V["commits"][2], chain()[1], pins=pins))


def test_7_msk_substitution_in_a_device_list_is_rejected() -> None:
    fake_msk = h("44" * 32)
    forged = ur1.sign_device_list(fake_msk, BOB.user, 2, ur1.parse_device_list(BOB.raw["devlist"]).devices)
    fails(lambda: ur1.accept_device_list(forged, pinned_msk=ur1.ed25519_public(BOB.msk_seed),
                                         current=device_lists()[BOB.user][0]))
    lists = device_lists()
    lists[BOB.user] = [ur1.parse_device_list(forged)]  # a commit naming Bob's real MSK needs a list under it
    fails(lambda: accept(V["commits"][2], chain()[1], device_lists=lists))


def test_7_device_list_rollback_is_rejected() -> None:
    second, _dsk, _dek = extra_device()
    v1, v2 = with_bob_lists(second)[BOB.user]
    msk = ur1.ed25519_public(BOB.msk_seed)
    fails(lambda: ur1.accept_device_list(BOB.raw["devlist"], pinned_msk=msk, current=v2))
    assert ur1.accept_device_list(BOB.raw["devlist"], pinned_msk=msk, current=v1).version == 1  # the same list again
    other = ur1.sign_device_list(BOB.msk_seed, BOB.user, 1, [*v1.devices, second])  # another list, same version
    fails(lambda: ur1.accept_device_list(other, pinned_msk=msk, current=v1))


# --- 8. forks, wrong prev, skipped epochs ----------------------------------------------------------------

def test_8_message_from_another_branch_is_an_epoch_fork() -> None:
    es_other = os.urandom(32)
    branch = accept(commit_after(chain()[1], ALICE, es=es_other), chain()[1])  # epoch 2' shown to someone else
    msg = ur1.seal_message(b"{}", es=es_other, accepted=branch, user=ALICE.user, device=ALICE.device, ctr=0,
                           dsk_seed=ALICE.dsk_seed)
    with pytest.raises(ur1.UR1Error, match="fork"):
        open_at(msg, 2)  # this client accepted the vectors' epoch 2


def test_8_wrong_prev_or_skipped_epoch_is_rejected() -> None:
    fails(lambda: accept(commit_after(chain()[2], ALICE, es=os.urandom(32), prev=chain()[1].commit_id), chain()[2]))
    fails(lambda: accept(commit_after(chain()[2], ALICE, es=os.urandom(32), epoch=4), chain()[2]))
    fails(lambda: accept(V["commits"][2], chain()[0]))
    fails(lambda: accept(V["commits"][1], chain()[1]))  # replayed old commit


# --- 9. forged wrap ------------------------------------------------------------------------------------

def test_9_forged_wrap_fails_on_kc() -> None:
    accepted = chain()[2]
    info = ur1.wrap_info(ROOM, 2, accepted.commit_id, BOB.user, BOB.device)
    w = ur1.hpke_seal_native(ur1.x25519_public(BOB.dek_sk), info, os.urandom(32))
    forged = dict(V["wraps"][4], w=ur1.b64u_encode(w))
    with pytest.raises(ur1.UR1Error, match="kc"):
        ur1.open_wrap(forged, accepted, my_user=BOB.user, my_device=BOB.device, dek_secret=BOB.dek_sk)


# --- 10. small-order keys ----------------------------------------------------------------------------

X25519_SMALL_ORDER = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]


@pytest.mark.parametrize("point", X25519_SMALL_ORDER)
def test_10_x25519_small_order_points_are_rejected_by_hpke(point: str) -> None:
    fails(lambda: ur1.hpke_seal_native(h(point), b"info", os.urandom(32)))
    fails(lambda: hpke_seal_base(h(point), b"info", b"", os.urandom(32), sk_e=os.urandom(32), aead_id=AEAD_AES_256_GCM))
    fails(lambda: ur1.hpke_open_native(BOB.dek_sk, b"info", h(point) + bytes(48)))
    fails(lambda: ur1.hpke_open_base(BOB.dek_sk, b"info", b"", h(point) + bytes(48)))


@pytest.mark.parametrize("encoding", sorted(e.hex() for e in ur1.ED25519_SMALL_ORDER))
def test_10_ed25519_small_order_public_keys_are_rejected_before_verify(encoding: str) -> None:
    assert len(ur1.ED25519_SMALL_ORDER) == 14
    fails(lambda: ur1.ed25519_verify(h(encoding), b"", bytes(64)))
    devlist = dict(BOB.raw["devlist"], msk=ur1.b64u_encode(h(encoding)))
    fails(lambda: ur1.parse_device_list(devlist))


@pytest.mark.parametrize("low", [0xED + 2, 0xED + 5, 0xFF])
def test_10_non_canonical_ed25519_public_keys_are_rejected(low: int) -> None:
    """y ≥ p, with either sign bit: refused in both clients so they agree on validity."""
    for top in (0x7F, 0xFF):
        fails(ur1.ed25519_verify, bytes([low]) + b"\xff" * 30 + bytes([top]), b"", bytes(64))
    ur1.parse_device_list(BOB.raw["devlist"])  # honest keys pass the same check


# --- 11. backup ------------------------------------------------------------------------------------

def test_11_backup_attacks() -> None:
    b = V["backup"]
    bk = ur1.backup_key(ur1.derive_root(b["passphrase"], b["params"]), b["user"])
    assert ur1.open_item(bk, b["user"], b["item"])
    wrong = ur1.backup_key(ur1.derive_root(b["passphrase"] + "!", b["params"]), b["user"])
    fails(lambda: ur1.open_item(wrong, b["user"], b["item"]))  # wrong passphrase
    moved = ur1.backup_key(ur1.derive_root(b["passphrase"], b["params"]), "u_alice")
    fails(lambda: ur1.open_item(moved, "u_alice", b["item"]))  # item moved to another user
    fails(lambda: ur1.open_item(bk, "u_alice", b["item"]))
    injected = ur1.seal_item(os.urandom(32), b["user"], "epoch", {"room": ROOM, "epoch": 2, "commit": "x", "es": "y"})
    fails(lambda: ur1.open_item(bk, b["user"], injected))  # server-injected under another key
    for key, value in (("ver", 2), ("kind", "pins"), ("id", "AAAAAAAAAAAAAAAAAAAAAA")):
        fails(ur1.open_item, bk, b["user"], dict(b["item"], **{key: value}))


@pytest.mark.parametrize("params", [
    {"it": 1000}, {"it": 599_999}, {"kdf": "pbkdf2-sha1"}, {"kdf": "scrypt"}, {"salt": "AAAAAAAAAAAAAAAAAAAA"},
    {"v": 2}, {"it": True}, {"extra": 1}, {"it": 10_000_001},
])
def test_11_backup_kdf_downgrade_is_refused(params: dict[str, Any]) -> None:
    fails(lambda: ur1.derive_root(V["backup"]["passphrase"], {**V["backup"]["params"], **params}))


def test_11_argon2_parameters_below_the_floor_are_refused() -> None:
    base = {"v": 1, "kdf": "argon2id", "m": 65536, "t": 3, "p": 1, "salt": V["backup"]["params"]["salt"]}
    assert ur1.check_params(base)
    for weaker in ({"m": 19456}, {"t": 1}, {"p": 0}, {"m": 2**21}):
        fails(ur1.check_params, {**base, **weaker})


def test_11_epoch_item_must_match_the_signed_kc() -> None:
    payload = {"room": ROOM, "epoch": 2, "commit": ur1.b64u_encode(chain()[2].commit_id),
               "es": ur1.b64u_encode(os.urandom(32))}
    with pytest.raises(ur1.UR1Error, match="kc"):
        ur1.restore_epoch_secret(payload, chain()[2])


# --- 14. old-epoch rule, 15. counter gaps ---------------------------------------------------------

def test_14_removed_sender_late_in_old_epoch_is_rejected() -> None:
    """Carol (removed in epoch 2) sends in epoch 1; the client accepted commit 2 at t=1000."""
    assert ur1.check_old_epoch(sender_user=CAROL.user, next_commit=chain()[2], next_accepted_at=1000.0,
                               received_at=1000.0 + 299)  # within 5 minutes: shown with a hint
    fails(lambda: ur1.check_old_epoch(sender_user=CAROL.user, next_commit=chain()[2], next_accepted_at=1000.0,
                                      received_at=1000.0 + 301))
    assert ur1.check_old_epoch(sender_user=BOB.user, next_commit=chain()[2], next_accepted_at=1000.0,
                               received_at=1000.0 + 3600)  # still a member: accepted, with a hint


def test_15_counter_gap_is_surfaced() -> None:
    accepted = chain()[2]
    replay = ur1.ReplaySet()
    for ctr in (0, 1, 3):
        open_at(ur1.seal_message(b"{}", es=epoch_secret(2), accepted=accepted, user=BOB.user, device=BOB.device,
                                 ctr=ctr, dsk_seed=BOB.dsk_seed), replay=replay)
    assert replay.gaps(ROOM, 2, BOB.device) == [2]


def test_attachment_chunks_cannot_be_truncated_or_reordered() -> None:
    key = os.urandom(32)
    data = os.urandom(64 * 1024 * 2 + 10)
    blob = ur1.seal_attachment(data, key)
    assert ur1.open_attachment(blob, key) == data
    step = 12 + 64 * 1024 + 16
    fails(lambda: ur1.open_attachment(blob[:2 * step], key))  # last chunk dropped: no final flag
    fails(lambda: ur1.open_attachment(blob[step:2 * step] + blob[:step] + blob[2 * step:], key))


def test_largest_message_fits_the_envelope_limit_and_larger_is_refused() -> None:
    accepted = chain()[2]
    largest = ur1.seal_message(b"x" * 65535, es=epoch_secret(2), accepted=accepted, user=BOB.user, device=BOB.device,
                               ctr=0, dsk_seed=BOB.dsk_seed)
    assert len(json.dumps(largest)) <= ur1.message.MAX_ENVELOPE_BYTES
    assert open_at(largest).body == b"x" * 65535
    fails(lambda: ur1.seal_message(b"x" * 65536, es=epoch_secret(2), accepted=accepted, user=BOB.user,
                                   device=BOB.device, ctr=1, dsk_seed=BOB.dsk_seed))
    fails(lambda: open_at(dict(m2(), ct=ur1.b64u_encode(bytes(80 + 300)))))  # not a padding bucket
