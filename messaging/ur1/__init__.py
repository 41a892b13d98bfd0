"""ure2e v1, suite UR1: the Python client of the encrypted rooms' protocol (the normative spec is
e2ee.md, "UR1"; section numbers in docstrings refer to it).

Pure functions over pyca/cryptography only. Every failed check raises `UR1Error` and nothing else,
so a caller fails closed by catching one type. The browser twin is messaging/static/messaging/ur1.js;
both pass the same known-answer vectors (tests/messaging/data/ur1-vectors.json).

Where the spec leaves a choice, both clients read it the same way:
- genesis (§4.4 rule 2): there is no commit n−1, so the author's device must be listed in the
  genesis commit itself and sign under that dsk;
- rule 5: a commit device must be on one of the member's verified device lists under the member's
  pinned MSK; absent from the newest one, the commit is accepted with `needs_rotation`;
- a device list of an equal version but other contents is refused like a rollback (a fork);
- replay (§4.7 step 4) is checked before decryption, but an envelope is recorded only after it
  opened, so forged envelopes cannot burn a sender's counters;
- padding: the padded length must be exactly the bucket of what it holds, and the ciphertext
  length one of the buckets (past 65536 the envelope no longer fits 90 KiB);
- history grants travel as `"t": "history"` with the `ure2e/v1/history` label and are checked
  against the old epoch's kc like wraps;
- attachments: chunk AAD = lp("ure2e/v1/att") ‖ u32(index) ‖ final flag byte (the spec names the
  flag, not the encoding);
- backup KDF costs have upper bounds too (a server must not make a client hang), Argon2id needs
  t ≥ 3 beside m ≥ 64 MiB, and Ed25519 public keys must have a canonical y (< p) besides not being
  in Appendix A's list, so engines cannot disagree on validity.
"""

from .backup import (
    backup_key,
    check_params,
    derive_root,
    generate_recovery_key,
    manifest_key,
    new_params,
    normalize_secret,
    open_item,
    restore_epoch_secret,
    seal_item,
)
from .encoding import UR1Error, b64u_decode, b64u_encode, lp, lst, u32, u64
from .identity import (
    Device,
    DeviceList,
    Pin,
    accept_device_list,
    devlist_tbs,
    fingerprint,
    parse_device_list,
    parse_qr_payload,
    qr_payload,
    safety_number,
    sign_device_list,
)
from .message import (
    Envelope,
    OpenedMessage,
    ReplaySet,
    check_old_epoch,
    encode_body,
    message_aad,
    message_id,
    open_attachment,
    open_message,
    pad,
    seal_attachment,
    seal_message,
    unpad,
)
from .meta import meta_aad, open_meta, parse_meta, seal_meta
from .primitives import (
    ED25519_SMALL_ORDER,
    ed25519_public,
    ed25519_sign,
    ed25519_verify,
    hpke_open_base,
    hpke_open_native,
    hpke_seal_base,
    hpke_seal_native,
    x25519_dh,
    x25519_public,
)
from .room import (
    AcceptedCommit,
    Commit,
    CommitDevice,
    Member,
    accept_commit,
    commit_id,
    commit_tbs,
    key_commitment,
    make_wrap,
    meta_key,
    open_wrap,
    parse_commit,
    sender_key,
    sign_commit,
    wrap_info,
)

__all__ = [
    "ED25519_SMALL_ORDER", "AcceptedCommit", "Commit", "CommitDevice", "Device", "DeviceList", "Member", "Pin",
    "Envelope", "OpenedMessage", "ReplaySet", "UR1Error", "accept_commit", "accept_device_list", "b64u_decode", "b64u_encode", "backup_key",
    "check_old_epoch", "check_params", "commit_id", "commit_tbs", "derive_root", "devlist_tbs", "ed25519_public",
    "ed25519_sign", "ed25519_verify", "encode_body", "fingerprint", "generate_recovery_key", "hpke_open_base",
    "hpke_open_native", "hpke_seal_base", "hpke_seal_native", "key_commitment", "lp", "lst", "make_wrap",
    "manifest_key", "message_aad", "message_id", "meta_aad", "meta_key", "new_params", "normalize_secret", "open_attachment",
    "open_item", "open_message", "open_meta", "open_wrap", "pad", "parse_commit", "parse_device_list", "parse_meta", "parse_qr_payload",
    "qr_payload", "restore_epoch_secret", "safety_number", "seal_attachment", "seal_item", "seal_message", "seal_meta",
    "sender_key", "sign_commit", "sign_device_list", "u32", "u64", "unpad", "wrap_info", "x25519_dh",
    "x25519_public",
]
