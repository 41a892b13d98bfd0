"""`python -m messaging.client`: the encrypted rooms from a terminal, on the Python protocol core.

    python -m messaging.client --state me.json login --server https://union.example --handle amani [--totp 123456]
    python -m messaging.client --state me.json enroll            (prints the recovery key, once)
    python -m messaging.client --state me.json restore           (a new device, from the recovery key)
    python -m messaging.client --state me.json devices
    python -m messaging.client --state me.json rooms
    python -m messaging.client --state me.json open-room --kind local --parent LOCAL_CODE
    python -m messaging.client --state me.json add-pending ROOM_CODE     (an admin: commit the roll's changes)
    python -m messaging.client --state me.json name ROOM_CODE "name" [--topic "topic"]   (an admin)
    python -m messaging.client --state me.json send ROOM_CODE "text"
    python -m messaging.client --state me.json tail ROOM_CODE [--after N] [--follow]

The password is read from the terminal, or from the environment variable TESSERA_PASSWORD; the
recovery key likewise, or from TESSERA_RECOVERY_KEY. The state file holds this device's private
keys, the backup key and the session cookie: it is created readable by its owner only, and must be
kept like a key. The recovery key itself is never stored.

`enroll` makes the member's keys, stores the encrypted backup (spec §4.9: the MSK seed; epoch
secrets follow as this device opens them) and prints the recovery key. `restore` opens that backup
on a new device: fresh device keys, certified by the MSK in the next version of the device list,
and the epoch secrets of the rooms read before (each checked against its signed commit's kc).
Backup item payloads are the browser's (messaging/static/messaging/account.js):
msk {"seed"}, pins {"pins": {user: {"msk", "verified"}}}, epoch {"room", "epoch", "commit", "es"}. Every command re-verifies the room's signed commit chain
from genesis against the members' signed device lists before it trusts anything the server says.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from messaging import ur1
from messaging.client import Account, Peer, new_id16
from messaging.client.http import ClientError, Session

CROCKFORD = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

# --- state ---------------------------------------------------------------------------------------

def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def save(path: Path, state: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(state, out)


def account_of(state: dict[str, Any]) -> Account:
    if "keys" not in state:
        raise ClientError("no keys yet: run `enroll` first")
    k = state["keys"]
    return Account(user_id=state["user"], msk_seed=bytes.fromhex(k["msk"]), dsk_seed=bytes.fromhex(k["dsk"]),
                   dek_secret=bytes.fromhex(k["dek"]), device_id=k["device"], version=k["version"])


def clean_recovery_key(text: str) -> str:
    """A recovery key as typed, the way the browser reads it (account.js cleanRecoveryKey): spaces
    and dashes dropped, upper case, O read as 0 and I or L as 1 (Crockford's alphabet has none of
    them); anything but 32 characters of that alphabet is refused before the slow KDF."""
    cleaned = "".join(text.split()).replace("-", "").upper().replace("O", "0").replace("I", "1").replace("L", "1")
    if len(cleaned) != 32 or not set(cleaned) <= CROCKFORD:
        raise ClientError("a recovery key has 32 letters and digits")
    return "-".join(cleaned[i:i + 4] for i in range(0, 32, 4))


def backup_key_of(state: dict[str, Any]) -> bytes | None:
    bk = state.get("keys", {}).get("bk")
    return bytes.fromhex(bk) if bk else None


def session_of(state: dict[str, Any]) -> Session:
    if "server" not in state:
        raise ClientError("not logged in: run `login` first")
    return Session(state["server"], state.get("cookies"))


# --- protocol steps --------------------------------------------------------------------------------

def sync_room(session: Session, account: Account, code: str, *, bk: bytes | None = None,
              backed_up: list[str] | None = None) -> dict[str, Any]:
    """Verify the room's chain from genesis and open this device's wraps: the client's view of the room.

    With the backup key, each epoch secret opened is backed up (once: `backed_up` lists them) and
    the secrets of earlier epochs come back from the backup.
    """
    backed_up = [] if backed_up is None else backed_up
    room = session.api("GET", f"/rooms/{code}")
    lists = {dl["user"]: [ur1.parse_device_list(dl)]
             for dl in session.api("GET", f"/rooms/{code}/device-lists")["device_lists"]}
    account.rooms.pop(room["room_id"], None)
    commits: list[Any] = []
    while True:
        page = session.api("GET", f"/rooms/{code}/commits?after={len(commits) - 1}")["commits"]
        commits += page
        if not page:
            break
    account.catch_up(room["room_id"], commits, lists)
    wraps = session.api("GET", f"/wraps?device={account.device_id}")["wraps"]
    state = account.rooms.get(room["room_id"])
    for wrap in wraps:
        if state is not None and state.head is not None and wrap["room"] == room["room_id"] \
                and wrap["epoch"] == state.head.commit.epoch:
            es = account.take_wrap(room["room_id"], wrap)
            if bk is not None:
                backup_epoch_secret(session, account, bk, backed_up, state.head, es)
    if bk is not None and state is not None:
        secrets_from_backup(session, account, bk, room["room_id"])
    return room


def backup_epoch_secret(session: Session, account: Account, bk: bytes, backed_up: list[str],
                        accepted: ur1.AcceptedCommit, es: bytes) -> None:
    """Seal an epoch secret this device opened into the backup, once (§4.9)."""
    commit = accepted.commit
    mark = f"{commit.room}:{commit.epoch}"
    if mark in backed_up:
        return
    item = ur1.seal_item(bk, account.user_id, "epoch", {
        "room": commit.room, "epoch": commit.epoch, "commit": ur1.b64u_encode(accepted.commit_id),
        "es": ur1.b64u_encode(es)})
    session.api("PUT", "/backup/items", item)
    backed_up.append(mark)


def secrets_from_backup(session: Session, account: Account, bk: bytes, room_id: str) -> int:
    """The room's epoch secrets from the backup, each only if it matches its accepted commit's kc."""
    state = account.rooms[room_id]
    found = 0
    for item in session.api("GET", "/backup/items")["items"]:
        if item["kind"] != "epoch":
            continue
        try:
            payload = ur1.open_item(bk, account.user_id, item)
            epoch = payload.get("epoch")
            if payload.get("room") != room_id or not isinstance(epoch, int) or epoch in state.secrets:
                continue
            accepted = state.accepted.get(epoch)
            if accepted is None:
                continue
            state.secrets[accepted.commit.epoch] = ur1.restore_epoch_secret(payload, accepted)
            found += 1
        except ur1.UR1Error:
            continue  # sealed under another key, tampered with, or for another commit: never used
    return found


def _sync(session: Session, account: Account, state: dict[str, Any], code: str) -> dict[str, Any]:
    return sync_room(session, account, code, bk=backup_key_of(state), backed_up=state.setdefault("backed_up", []))


def cmd_login(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session = Session(args.server)
    session.request("GET", "/account/login/")
    password = os.environ.get("TESSERA_PASSWORD") or getpass.getpass("Password: ")
    page = session.request("POST", "/account/login/", form={"username": args.handle, "password": password})
    if "otp_token" in page:
        code = args.totp or input("Two-factor code: ")
        page = session.request("POST", "/account/two-factor/verify/", form={"otp_token": code})
    mine = session.api("GET", "/devices")
    state.update(server=args.server, cookies=session.cookies(), user=mine["user"])
    return f"logged in as {mine['user']}"


def _read_recovery_key(prompt: str) -> str:
    return clean_recovery_key(os.environ.get("TESSERA_RECOVERY_KEY") or getpass.getpass(prompt))


def _make_backup(session: Session, account: Account) -> tuple[str, bytes]:
    """A new recovery key and the backup under it: KDF parameters, then the MSK seed (§4.9)."""
    recovery_key = ur1.generate_recovery_key()
    params = ur1.new_params()
    bk = ur1.backup_key(ur1.derive_root(recovery_key, params, recovery_key=True), account.user_id)
    session.api("PUT", "/backup/params", {"params": params})
    session.api("PUT", "/backup/items", ur1.seal_item(bk, account.user_id, "msk",
                                                      {"seed": ur1.b64u_encode(account.msk_seed)}))
    return recovery_key, bk


def _keep_keys(state: dict[str, Any], account: Account, bk: bytes) -> None:
    state["keys"] = {"msk": account.msk_seed.hex(), "dsk": account.dsk_seed.hex(), "dek": account.dek_secret.hex(),
                     "device": account.device_id, "version": account.version, "bk": bk.hex()}


RECOVERY_NOTICE = """Your recovery key (shown only now; write it down and keep it safe and private):

    {key}

It is the only way to restore your keys on a new device (`restore`). It is not stored anywhere."""


def cmd_enroll(args: argparse.Namespace, state: dict[str, Any]) -> str:
    """First use: keys, the encrypted backup, the first device list; prints the recovery key.

    A device enrolled before backups existed (keys here, no backup on the server) gets its backup
    and recovery key now.
    """
    session = session_of(state)
    mine = session.api("GET", "/devices")
    if "keys" in state:
        account = account_of(state)
        if backup_key_of(state) is not None and session.api("GET", "/backup/params")["params"] is not None:
            raise ClientError("this device is enrolled and backed up already")
        recovery_key, bk = _make_backup(session, account)
        _keep_keys(state, account, bk)
        return RECOVERY_NOTICE.format(key=recovery_key)
    if mine["device_list"] is not None:
        raise ClientError("this account has devices already: run `restore` with your recovery key")
    account = Account(user_id=state["user"])
    recovery_key, bk = _make_backup(session, account)  # the backup first: a device list without one is unrecoverable
    session.api("POST", "/devices", account.device_list())
    _keep_keys(state, account, bk)
    return f"enrolled device {account.device_id}\n\n" + RECOVERY_NOTICE.format(key=recovery_key)


def cmd_restore(args: argparse.Namespace, state: dict[str, Any]) -> str:
    """A new device from the recovery key: the backup's MSK certifies fresh device keys in the next
    device list. A wrong key, a missing backup or unsafe KDF parameters change nothing."""
    session = session_of(state)
    if "keys" in state:
        raise ClientError("this state file has keys already: use a fresh one for a new device")
    mine = session.api("GET", "/devices")
    if mine["device_list"] is None:
        raise ClientError("this account has no devices yet: run `enroll`")
    params = session.api("GET", "/backup/params")["params"]
    if params is None:
        raise ClientError("there is no backup on the server")
    try:
        ur1.check_params(params)
    except ur1.UR1Error:
        raise ClientError("the server offered unsafe backup parameters; nothing was changed") from None
    current = ur1.parse_device_list(mine["device_list"])
    if current.user != state["user"]:
        raise ClientError("the device list is another user's")
    recovery_key = _read_recovery_key("Recovery key: ")
    bk = ur1.backup_key(ur1.derive_root(recovery_key, params, recovery_key=True), state["user"])
    seed = None
    for item in session.api("GET", "/backup/items")["items"]:
        if item["kind"] != "msk":
            continue
        try:
            candidate = ur1.b64u_decode(ur1.open_item(bk, state["user"], item)["seed"], 32)
        except (ur1.UR1Error, KeyError, TypeError):
            continue
        if ur1.ed25519_public(candidate) == current.msk:
            seed = candidate
    if seed is None:
        raise ClientError("this recovery key does not open your backup; nothing was changed")
    account = Account(user_id=state["user"], msk_seed=seed, version=current.version)
    session.api("POST", "/devices", account.device_list(devices=[*current.devices, account.device()]))
    _keep_keys(state, account, bk)
    return f"restored: this is device {account.device_id}, in device list version {account.version}"


def cmd_devices(args: argparse.Namespace, state: dict[str, Any]) -> str:
    """This user's devices from their signed device list, verified under this account's MSK."""
    session, account = session_of(state), account_of(state)
    body = session.api("GET", "/devices")["device_list"]
    if body is None:
        return "no devices"
    try:
        current = ur1.accept_device_list(body, pinned_msk=account.msk, current=None)
        if current.version < account.version:
            raise ur1.UR1Error("device list rollback")
    except ur1.UR1Error as error:
        raise ClientError(f"the device list is not trusted: {error}") from None
    return "\n".join(f"{d.id}  added {time.strftime('%Y-%m-%d %H:%M', time.gmtime(d.added))} UTC"
                     f"{'  (this device)' if d.id == account.device_id else ''}" for d in current.devices) \
        + f"\nversion {current.version}"


def cmd_rooms(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session = session_of(state)
    account = account_of(state) if "keys" in state else None
    lines = []
    for r in session.api("GET", "/rooms")["rooms"]:
        name = None
        if r["joined"] and r["meta"] and account is not None:
            name = room_name(account, sync_room(session, account, r["code"]))
        lines.append(f"{r['code']}  {r['kind']:<9}  {'joined' if r['joined'] else 'pending':<7}  "
                     f"epoch {r['epoch']}  unread {r['unread']}" + (f"  {name['name']}" if name else ""))
    return "\n".join(lines) or "no rooms"


def room_name(account: Account, room: dict[str, Any]) -> dict[str, str] | None:
    """The room's name and topic, if an admin sealed them in the epoch this client holds (synced)."""
    if not room.get("meta"):
        return None
    try:
        return account.open_meta(room["room_id"], room["meta"])
    except ur1.UR1Error:
        return None  # sealed in an older epoch, or not by an admin: no name rather than a wrong one


def _commit(session: Session, account: Account, room: dict[str, Any], members: list[tuple[Account | Peer, str]]) -> None:
    """Commit the next epoch; then seal the room's name again under the new epoch's K_m, so that
    whoever this commit removed never reads a name given from now on."""
    name = room_name(account, room) if room["room_id"] in account.rooms else None
    body, wraps, _es = account.make_commit(room["room_id"], members)
    session.api("POST", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps})
    if name is not None:
        sync_room(session, account, room["code"])
        session.api("PUT", f"/rooms/{room['code']}/meta", account.seal_meta(room["room_id"], name))


def _peers(session: Session, code: str, users: list[str]) -> list[tuple[Account | Peer, str]]:
    """Members as the commit lists them: every device of each user's newest signed device list."""
    lists = {dl["user"]: ur1.parse_device_list(dl)
             for dl in session.api("GET", f"/rooms/{code}/device-lists")["device_lists"]}
    # Someone not enrolled yet has no device list: they join at a later rotation.
    return [(Peer.from_device_list(lists[user]), "member") for user in users if user in lists]


def cmd_open_room(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session, account = session_of(state), account_of(state)
    room = session.api("POST", "/rooms", {"kind": args.kind, "parent": args.parent, "room_id": new_id16()})
    _commit(session, account, room, [(account, "admin")])
    return f"opened room {room['code']}"


def cmd_add_pending(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session, account = session_of(state), account_of(state)
    room = _sync(session, account, state, args.room)
    head = account.rooms[room["room_id"]].head
    assert head is not None
    keep = [m.user for m in head.commit.members if m.user not in room["pending_remove"] and m.user != account.user_id]
    admins = {m.user for m in head.commit.members if m.role == "admin"}
    members = [(account, "admin")] + [(p, "admin" if p.user_id in admins else "member")
                                      for p, _r in _peers(session, args.room, keep + room["pending_add"])]
    _commit(session, account, room, members)
    return f"epoch {head.commit.epoch + 1}: {len(members)} members"


def cmd_name(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session, account = session_of(state), account_of(state)
    room = sync_room(session, account, args.room)
    body = {"name": args.name, **({"topic": args.topic} if args.topic else {})}
    try:
        blob = account.seal_meta(room["room_id"], body)
    except ur1.UR1Error as error:
        raise ClientError(f"cannot name this room: {error}") from None
    session.api("PUT", f"/rooms/{args.room}/meta", blob)
    return f"named {args.room}"


def cmd_send(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session, account = session_of(state), account_of(state)
    room = _sync(session, account, state, args.room)
    counters = state.setdefault("counters", {})
    key = f"{room['room_id']}:{room['epoch']}"
    account.rooms[room["room_id"]].ctr = counters.get(key, 0)
    envelope = account.seal(room["room_id"], {"type": "text", "text": args.text, "ts": int(time.time() * 1000)})
    counters[key] = account.rooms[room["room_id"]].ctr  # persisted before sending: a counter is never reused
    state["_save"]()
    sent = session.api("POST", f"/rooms/{args.room}/messages", envelope)
    return f"sent as {sent['seq']}"


def cmd_tail(args: argparse.Namespace, state: dict[str, Any]) -> str:
    session, account = session_of(state), account_of(state)
    room = _sync(session, account, state, args.room)
    after = args.after
    while True:
        page = session.api("GET", f"/rooms/{args.room}/messages?after={after}")
        for item in page["messages"]:
            after = item["seq"]
            try:
                opened = account.open(room["room_id"], item["envelope"])
                text = json.loads(opened.body).get("text", "")
                print(f"{item['seq']}  {opened.user[:8]}  {text}", flush=True)
            except (ur1.UR1Error, KeyError):
                print(f"{item['seq']}  (cannot be opened on this device)", flush=True)
        if not args.follow:
            return ""
        if not page["messages"]:
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m messaging.client", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, default=Path.home() / ".tessera-client.json")
    sub = parser.add_subparsers(dest="command", required=True)
    login = sub.add_parser("login")
    login.add_argument("--server", required=True)
    login.add_argument("--handle", required=True)
    login.add_argument("--totp")
    sub.add_parser("enroll")
    sub.add_parser("restore")
    sub.add_parser("devices")
    sub.add_parser("rooms")
    opening = sub.add_parser("open-room")
    opening.add_argument("--kind", choices=["local", "unit", "grievance", "committee"], required=True)
    opening.add_argument("--parent", required=True)
    sub.add_parser("add-pending").add_argument("room")
    naming = sub.add_parser("name")
    naming.add_argument("room")
    naming.add_argument("name")
    naming.add_argument("--topic")
    send = sub.add_parser("send")
    send.add_argument("room")
    send.add_argument("text")
    tail = sub.add_parser("tail")
    tail.add_argument("room")
    tail.add_argument("--after", type=int, default=0)
    tail.add_argument("--follow", action="store_true")
    args = parser.parse_args(argv)
    state = load(args.state)
    state["_save"] = lambda: save(args.state, {k: v for k, v in state.items() if k != "_save"})
    commands = {"login": cmd_login, "enroll": cmd_enroll, "restore": cmd_restore, "devices": cmd_devices,
                "rooms": cmd_rooms, "open-room": cmd_open_room, "add-pending": cmd_add_pending, "name": cmd_name,
                "send": cmd_send, "tail": cmd_tail}
    try:
        out = commands[args.command](args, state)
    except (ClientError, ur1.UR1Error) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    state["_save"]()
    if out:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
