"""Known-answer tests of spec §5.1 (K1-K9, K11) through the Python client.

Reads the file named by UR1_VECTORS (default tests/messaging/data/ur1-vectors.json): every person,
commit, wrap and message in it is checked, so another vectors file of the same schema runs as is.
K10 (Argon2id against @noble/hashes) has no vector in the file: the JS client does not ship it.
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519

from messaging import ur1
from messaging.ur1.primitives import AEAD_AES_128_GCM
from tests.messaging.ur1_data import chain, device_lists, epoch_secret, h, people, person_by_user, vectors

V = vectors()
PEOPLE = list(V["people"])
EPOCHS = list(range(len(V["commits"])))
WRAPS = [f"{w['epoch']}/{w['to_user']}" for w in V["wraps"]]
MESSAGES = list(V["messages"])


def test_k1_rfc9180_a1_seal_and_open() -> None:
    a1 = V["rfc9180_a1"]
    sealed = ur1.hpke_seal_base(h(a1["pkRm"]), h(a1["info"]), h(a1["aad"]), h(a1["pt"]), sk_e=h(a1["skEm"]),
                                aead_id=AEAD_AES_128_GCM)
    assert sealed.hex() == a1["enc"] + a1["ct"]
    assert ur1.x25519_public(h(a1["skEm"])).hex() == a1["enc"]
    assert ur1.hpke_open_base(h(a1["skRm"]), h(a1["info"]), h(a1["aad"]), sealed, aead_id=AEAD_AES_128_GCM) == h(a1["pt"])


def test_k1_native_hpke_agrees_with_the_written_out_one() -> None:
    """pyca's hpke.Suite (aad "") and our RFC 9180 code open each other's output, both AEADs."""
    a1 = V["rfc9180_a1"]
    for aead, aead_id in ((hpke.AEAD.AES_128_GCM, AEAD_AES_128_GCM), (hpke.AEAD.AES_256_GCM, 2)):
        suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, aead)
        native = suite.encrypt(h(a1["pt"]), x25519.X25519PublicKey.from_public_bytes(h(a1["pkRm"])), h(a1["info"]))
        assert ur1.hpke_open_base(h(a1["skRm"]), h(a1["info"]), b"", native, aead_id=aead_id) == h(a1["pt"])
        ours = ur1.hpke_seal_base(h(a1["pkRm"]), h(a1["info"]), b"", h(a1["pt"]), sk_e=h(a1["skEm"]), aead_id=aead_id)
        private = x25519.X25519PrivateKey.from_private_bytes(h(a1["skRm"]))
        assert suite.decrypt(ours, private, h(a1["info"])) == h(a1["pt"])


@pytest.mark.parametrize("name", PEOPLE)
def test_k2_public_keys_from_seeds(name: str) -> None:
    p = V["people"][name]
    assert ur1.ed25519_public(h(p["msk_seed"])).hex() == p["msk_pub"]
    assert ur1.ed25519_public(h(p["dsk_seed"])).hex() == p["dsk_pub"]
    assert ur1.x25519_public(h(p["dek_sk"])).hex() == p["dek_pub"]


def test_k2_rfc8032_test_1() -> None:
    seed = h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    signature = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
                 "d25bf5f0595bbe24655141438e7a100b")
    assert ur1.ed25519_public(seed).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert ur1.ed25519_sign(seed, b"").hex() == signature
    ur1.ed25519_verify(ur1.ed25519_public(seed), b"", h(signature))


@pytest.mark.parametrize("name", PEOPLE)
def test_k3_fingerprint_digits(name: str) -> None:
    p = V["people"][name]
    assert ur1.safety_number(p["user"], h(p["msk_pub"])) == p["fingerprint"]
    assert ur1.parse_qr_payload(ur1.qr_payload(p["user"], h(p["msk_pub"]))) == (p["user"], h(p["msk_pub"]))


@pytest.mark.parametrize("name", PEOPLE)
def test_k4_device_list_verifies_and_signs_to_the_same_bytes(name: str) -> None:
    p = V["people"][name]
    parsed = ur1.parse_device_list(p["devlist"])  # verifies the signature
    assert parsed.msk.hex() == p["msk_pub"] and parsed.user == p["user"]
    assert ur1.sign_device_list(h(p["msk_seed"]), p["user"], parsed.version, parsed.devices) == p["devlist"]


@pytest.mark.parametrize("epoch", EPOCHS)
def test_k5_commit_tbs_id_kc_and_signature(epoch: int) -> None:
    accepted = chain()[epoch]  # every commit accepted in order: signature, authority, chain
    assert ur1.commit_tbs(accepted.commit).hex() == V["commit_tbs_hex"][epoch]
    assert accepted.commit_id.hex() == V["commit_ids"][epoch]
    kc = ur1.key_commitment(epoch_secret(epoch), V["room"], epoch)
    assert kc.hex() == V["key_commitments"][epoch] == accepted.commit.kc.hex()
    author = person_by_user(accepted.commit.author_user)
    # OpenSSL's Ed25519 is deterministic: the same signature bytes, not only a valid one.
    assert ur1.sign_commit(author.dsk_seed, dataclasses.replace(accepted.commit, sig=b"")) == V["commits"][epoch]


def test_k6_sender_key_and_aad() -> None:
    m1 = V["messages"]["m1"]["env"]
    epoch = m1["epoch"]
    cid = chain()[epoch].commit_id
    key = ur1.sender_key(epoch_secret(epoch), V["room"], epoch, m1["sender"]["user"], m1["sender"]["device"])
    assert key.hex() == V["sender_key_bob_e1"]
    aad = ur1.message_aad(V["room"], epoch, cid, m1["sender"]["user"], m1["sender"]["device"], m1["ctr"])
    assert aad.hex() == V["msg_aad_m1_hex"]
    assert aad.hex().startswith("0000000c75726532652f76312f6d736700000003555231")


@pytest.mark.parametrize("wrap", WRAPS)
def test_k7_wrap_opens_matches_kc_and_reseals_exactly(wrap: str) -> None:
    w = next(x for x in V["wraps"] if f"{x['epoch']}/{x['to_user']}" == wrap)
    accepted = chain()[w["epoch"]]
    me = person_by_user(w["to_user"])
    es = ur1.open_wrap(w, accepted, my_user=me.user, my_device=me.device, dek_secret=me.dek_sk)
    assert es == epoch_secret(w["epoch"])
    assert len(ur1.b64u_decode(w["w"])) == 80
    again = ur1.make_wrap(es, accepted, me.user, me.device, ephemeral_secret=h(V["wrap_ephemeral_seeds"][wrap]))
    assert again == w


@pytest.mark.parametrize("name", MESSAGES)
def test_k8_message_opens_verifies_and_reseals_exactly(name: str) -> None:
    m = V["messages"][name]
    epoch = m["es_epoch"]
    accepted = chain()[epoch]
    opened = ur1.open_message(m["env"], room=V["room"], accepted=accepted, es=epoch_secret(epoch),
                              replay=ur1.ReplaySet())
    body = json.loads(opened.body.decode("utf-8"))
    if "body" in m:
        assert body == m["body"]
        assert ur1.encode_body(m["body"]) == opened.body
    sender = person_by_user(m["env"]["sender"]["user"])
    again = ur1.seal_message(opened.body, es=epoch_secret(epoch), accepted=accepted, user=sender.user,
                             device=sender.device, ctr=m["env"]["ctr"], dsk_seed=sender.dsk_seed,
                             nonce=h(V["message_nonces"][name]))
    assert again == m["env"]
    assert len(opened.message_id) == 22


def test_k9_backup_key_and_item() -> None:
    b = V["backup"]
    root = ur1.derive_root(b["passphrase"], b["params"])
    bk = ur1.backup_key(root, b["user"])
    assert bk.hex() == b["backup_key"]
    payload = ur1.open_item(bk, b["user"], b["item"])
    again = ur1.seal_item(bk, b["user"], b["item"]["kind"], payload, ver=b["item"]["ver"], item_id=b["item"]["id"],
                          nonce=h(b["nonce"]))
    assert again == b["item"]
    if b["item"]["kind"] == "epoch":
        accepted = chain()[payload["epoch"]]
        assert ur1.restore_epoch_secret(payload, accepted) == epoch_secret(payload["epoch"])


def test_k9_nfc_and_nfd_give_the_same_key() -> None:
    b = V["backup"]
    secret = "Ngũgĩ café " + b["passphrase"]
    nfc, nfd = unicodedata.normalize("NFC", secret), unicodedata.normalize("NFD", secret)
    assert nfc != nfd
    assert ur1.derive_root(nfc, b["params"]) == ur1.derive_root(nfd, b["params"])


@pytest.mark.parametrize("bad", ["AAE=", "AA+A", "AA/A", "AA A", "AA\nA", "A", "AAF", "AB", " AAA", "AAAAA"])
def test_k11_strict_base64url_refuses(bad: str) -> None:
    with pytest.raises(ur1.UR1Error):
        ur1.b64u_decode(bad)


def test_k11_strict_base64url_accepts_canonical() -> None:
    assert ur1.b64u_decode("AAA") == b"\x00\x00" and ur1.b64u_decode("") == b"" and ur1.b64u_decode("_-8") == b"\xff\xef"


def test_every_person_is_on_some_device_list() -> None:
    assert set(device_lists()) == {p.user for p in people().values()}


def test_k10_argon2id_option_in_python() -> None:
    """K10 has no vector in the file and the JS client does not ship Argon2id (it refuses such
    parameters); this checks the Python path at the spec's floor: deterministic, salted, NFC."""
    params = {"v": 1, "kdf": "argon2id", "m": 65536, "t": 3, "p": 1, "salt": V["backup"]["params"]["salt"]}
    root = ur1.derive_root("café", params)
    assert len(root) == 32
    assert root == ur1.derive_root(unicodedata.normalize("NFD", "café"), params)
    assert root != ur1.derive_root("café", {**params, "salt": ur1.b64u_encode(bytes(16))})
    assert root != ur1.derive_root("café", V["backup"]["params"])
