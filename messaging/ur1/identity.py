"""Identity (spec §4.3): device lists signed by the master signing key, fingerprints and the
60-digit safety number, the QR payload, and MSK pins (TOFU, verified, rollback refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .encoding import (
    UR1Error,
    b64u_decode,
    b64u_encode,
    check_id16,
    check_int,
    check_keys,
    check_list,
    check_user_id,
    lp,
    lst,
    sha256,
    u64,
    utf8_sort_key,
)
from .primitives import check_ed25519_public, ed25519_public, ed25519_sign, ed25519_verify


@dataclass(frozen=True)
class Device:
    id: str
    dsk: bytes  # Ed25519 device signing key (public)
    dek: bytes  # X25519 device encryption key (public)
    added: int


@dataclass(frozen=True)
class DeviceList:
    user: str
    msk: bytes
    version: int
    devices: tuple[Device, ...]
    sig: bytes

    def device(self, device_id: str) -> Device | None:
        return next((device for device in self.devices if device.id == device_id), None)


def devlist_tbs(user: str, msk: bytes, version: int, devices: Sequence[Device]) -> bytes:
    """DL-TBS (§4.3); devices sorted by id, in the byte order of the b64u string."""
    ordered = sorted(devices, key=lambda d: utf8_sort_key(d.id))
    return (lp("ure2e/v1/devlist") + lp(user) + lp(msk) + u64(version)
            + lst(lp(d.id) + lp(d.dsk) + lp(d.dek) + u64(d.added) for d in ordered))


def _check_devices(devices: Sequence[Device]) -> None:
    ids = [d.id for d in devices]
    if len(set(ids)) != len(ids):
        raise UR1Error("duplicate device id")
    for device in devices:
        check_id16(device.id)
        check_ed25519_public(device.dsk)
        if len(device.dek) != 32:
            raise UR1Error("bad device encryption key")
        check_int(device.added)


def sign_device_list(msk_seed: bytes, user: str, version: int, devices: Sequence[Device]) -> dict[str, Any]:
    """A device list as its JSON transport form, signed by the MSK."""
    check_user_id(user)
    check_int(version)
    _check_devices(devices)
    msk = ed25519_public(msk_seed)
    ordered = sorted(devices, key=lambda d: utf8_sort_key(d.id))
    sig = ed25519_sign(msk_seed, devlist_tbs(user, msk, version, ordered))
    return {"v": 1, "user": user, "msk": b64u_encode(msk), "version": version,
            "devices": [{"id": d.id, "dsk": b64u_encode(d.dsk), "dek": b64u_encode(d.dek), "added": d.added}
                        for d in ordered],
            "sig": b64u_encode(sig)}


def parse_device_list(obj: Any) -> DeviceList:
    """Strict parse and signature check of a device list (JSON form). Raises UR1Error."""
    check_keys(obj, ("v", "user", "msk", "version", "devices", "sig"))
    if obj["v"] != 1 or type(obj["v"]) is not int:
        raise UR1Error("unknown device list version")
    devices = tuple(
        Device(id=check_id16(check_keys(d, ("id", "dsk", "dek", "added"))["id"]),
               dsk=b64u_decode(d["dsk"], 32), dek=b64u_decode(d["dek"], 32), added=check_int(d["added"]))
        for d in check_list(obj["devices"]))
    _check_devices(devices)
    parsed = DeviceList(user=check_user_id(obj["user"]), msk=check_ed25519_public(b64u_decode(obj["msk"], 32)),
                        version=check_int(obj["version"]), devices=devices, sig=b64u_decode(obj["sig"], 64))
    ed25519_verify(parsed.msk, devlist_tbs(parsed.user, parsed.msk, parsed.version, devices), parsed.sig)
    return parsed


def accept_device_list(obj: Any, *, pinned_msk: bytes | None, current: DeviceList | None) -> DeviceList:
    """A device list a client may use: signed, by the pinned MSK, and not older than `current`, the
    highest version this client accepted for the user (§4.3: rollback MUST be rejected).

    The same version with other contents is refused too: that is a server showing two lists (a fork).
    """
    parsed = parse_device_list(obj)
    if pinned_msk is not None and parsed.msk != pinned_msk:
        raise UR1Error("master signing key changed")
    if current is not None:
        if parsed.user != current.user or parsed.version < current.version:
            raise UR1Error("device list rollback")
        if parsed.version == current.version and parsed != current:
            raise UR1Error("two device lists with one version")
    return parsed


# --- fingerprints ---------------------------------------------------------------------------------

def fingerprint(user: str, msk: bytes) -> bytes:
    return sha256(lp("ure2e/v1/fpr") + lp(check_user_id(user)) + lp(msk))


def safety_number(user: str, msk: bytes) -> str:
    """The 60 digits of §4.3 in 12 groups of 5: each 5-byte chunk of FP, big-endian, mod 10¹⁰."""
    fp = fingerprint(user, msk)
    digits = "".join(f"{int.from_bytes(fp[5 * i:5 * i + 5], 'big') % 10**10:010d}" for i in range(6))
    return " ".join(digits[i:i + 5] for i in range(0, 60, 5))


def qr_payload(user: str, msk: bytes) -> str:
    return f"ure2e:v1:{check_user_id(user)}:{b64u_encode(check_ed25519_public(msk))}"


def parse_qr_payload(text: str) -> tuple[str, bytes]:
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) != 4 or parts[:2] != ["ure2e", "v1"]:
        raise UR1Error("not a UR1 verification code")
    return check_user_id(parts[2]), check_ed25519_public(b64u_decode(parts[3], 32))


# --- pins (TOFU) -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pin:
    msk: bytes
    verified: bool = False


def check_pin(pins: Mapping[str, Pin], user: str, msk: bytes) -> Pin | None:
    """The pin for `user` if `msk` matches it, None if the user is new (TOFU); a change raises.

    A changed MSK MUST block sending in verified-only rooms and show a warning (§4.3): the protocol
    layer refuses it outright and the UI decides how to re-verify.
    """
    pin = pins.get(user)
    if pin is not None and pin.msk != msk:
        raise UR1Error("master signing key changed")
    return pin
