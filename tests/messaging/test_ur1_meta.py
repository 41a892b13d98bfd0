"""The room's sealed name (messaging/ur1/meta.py): it opens only for holders of the epoch secret,
only from an admin device of that epoch, and any change to the blob fails closed."""

from __future__ import annotations

import os

import pytest

from messaging import ur1
from messaging.client import Account, Peer, new_id16

NAME = {"name": "Night shift organising", "topic": "Thursday 9pm"}


@pytest.fixture
def room() -> tuple[str, Account, Account, Account]:
    admin, member, removed = (Account(user_id=os.urandom(16).hex()) for _ in range(3))
    rid = new_id16()
    lists = {a.user_id: [ur1.parse_device_list(a.device_list())] for a in (admin, member, removed)}
    chain = []
    rosters: list[list[tuple[Account | Peer, str]]] = [
        [(admin, "admin")], [(admin, "admin"), (member, "member"), (removed, "member")]]
    for members in rosters:
        body, wraps, _es = admin.make_commit(rid, members)
        chain.append(body)
        for account, _role in members:
            assert isinstance(account, Account)
            account.catch_up(rid, chain, lists)
            account.take_wrap(rid, next(w for w in wraps if w["to_device"] == account.device_id))
    return rid, admin, member, removed


def test_members_open_the_name_an_admin_sealed(room: tuple[str, Account, Account, Account]) -> None:
    rid, admin, member, _removed = room
    blob = admin.seal_meta(rid, NAME)
    assert set(blob) == {"v", "t", "suite", "room", "epoch", "commit", "sender", "n", "ct"}
    assert member.open_meta(rid, blob) == NAME
    assert len(ur1.b64u_decode(blob["ct"])) == 64 + 256 + 16  # padded: the length says little
    assert admin.open_meta(rid, admin.seal_meta(rid, {"name": "x"})) == {"name": "x"}


@pytest.mark.parametrize("change", ["ct", "n", "epoch", "room", "sender", "t", "extra"])
def test_a_changed_blob_fails_closed(room: tuple[str, Account, Account, Account], change: str) -> None:
    rid, admin, member, _removed = room
    blob = admin.seal_meta(rid, NAME)
    ct = bytearray(ur1.b64u_decode(blob["ct"]))
    ct[5] ^= 1
    bad = {"ct": {**blob, "ct": ur1.b64u_encode(bytes(ct))}, "n": {**blob, "n": ur1.b64u_encode(os.urandom(12))},
           "epoch": {**blob, "epoch": 0}, "room": {**blob, "room": new_id16()},
           "sender": {**blob, "sender": {"user": member.user_id, "device": member.device_id}},
           "t": {**blob, "t": "msg"}, "extra": {**blob, "name": "x"}}[change]
    with pytest.raises(ur1.UR1Error):
        member.open_meta(rid, bad)


def test_a_member_cannot_name_the_room_even_with_the_key(room: tuple[str, Account, Account, Account]) -> None:
    rid, admin, member, _removed = room
    with pytest.raises(ur1.UR1Error):
        member.seal_meta(rid, NAME)
    # Sealed by hand with K_m and a valid signature of its own device, it is still refused: not an admin.
    state = member.rooms[rid]
    assert state.head is not None
    promoted = ur1.AcceptedCommit(commit=state.head.commit.__class__(**{
        **state.head.commit.__dict__,
        "members": tuple(ur1.Member(user=m.user, msk=m.msk, role="admin") for m in state.head.commit.members)}),
        commit_id=state.head.commit_id)
    forged = ur1.seal_meta(NAME, es=state.secrets[1], accepted=promoted, user=member.user_id,
                           device=member.device_id, dsk_seed=member.dsk_seed)
    with pytest.raises(ur1.UR1Error, match="not from an admin"):
        admin.open_meta(rid, forged)


def test_bad_bodies_are_refused(room: tuple[str, Account, Account, Account]) -> None:
    rid, admin, _member, _removed = room
    for body in ({}, {"name": ""}, {"name": "x" * 201}, {"name": 1}, {"name": "x", "avatar": "y"}):
        with pytest.raises(ur1.UR1Error):
            admin.seal_meta(rid, body)


def test_a_removed_member_cannot_read_a_name_sealed_after_removal(room: tuple[str, Account, Account, Account]) -> None:
    rid, admin, member, removed = room
    body, wraps, _es = admin.make_commit(rid, [(admin, "admin"), (member, "member")])
    admin.accept(rid, body, {a.user_id: [ur1.parse_device_list(a.device_list())] for a in (admin, member)})
    admin.take_wrap(rid, next(w for w in wraps if w["to_device"] == admin.device_id))
    blob = admin.seal_meta(rid, {"name": "After the removal"})
    assert not any(w["to_device"] == removed.device_id for w in wraps)
    with pytest.raises(ur1.UR1Error):
        removed.open_meta(rid, blob)  # no epoch-2 commit accepted, no epoch-2 secret
    with pytest.raises(ur1.UR1Error):  # and its epoch-1 K_m does not open it
        ur1.open_meta(blob, room=rid, accepted=ur1.AcceptedCommit(commit=ur1.parse_commit(body),
                      commit_id=ur1.commit_id(ur1.parse_commit(body))), es=removed.rooms[rid].secrets[1])
