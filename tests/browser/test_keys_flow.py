"""The member's keys in the browser (messaging/static/messaging/account.js and the key pages), in
Debian's Chromium against a live Daphne: first use shows the recovery key once, a second browser
restores from it (a wrong key is refused and changes nothing), both devices are listed from the
signed device list, one is revoked (the list's version goes up and the revoked browser erases its
own keys when it sees that), keys are non-extractable, lock forgets plaintext and ends the session,
panic wipe deletes the database. Cross-client: the Python client restores the browser's backup.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from messaging import ur1
from tests.browser.conftest import REPO, Browsing, LiveServer, log_in

pytestmark = pytest.mark.browser

KEY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$")

# What this browser's key database holds, read with IndexedDB itself (no module of the page).
INSPECT = """async () => {
  const names = (await indexedDB.databases()).map((d) => d.name);
  if (!names.includes("ure2e")) return { database: false };
  const db = await new Promise((ok, ko) => { const r = indexedDB.open("ure2e"); r.onsuccess = () => ok(r.result); r.onerror = ko; });
  const all = (name) => new Promise((ok) => { const r = db.transaction(name).objectStore(name).getAll(); r.onsuccess = () => ok(r.result); });
  const keys = await all("keys");
  const accounts = (await all("account")).filter((a) => a && typeof a === "object" && a.deviceId);
  const out = { database: true, cache: (await all("cache")).length, outbox: (await all("outbox")).length,
    epochs: (await all("epochs")).map((k) => k.extractable),
    keys: keys.map((k) => ({ dsk: k.dsk.privateKey.extractable, dek: k.dek.privateKey.extractable,
                             types: [k.dsk.privateKey.algorithm.name, k.dek.privateKey.algorithm.name] })),
    accounts: accounts.map((a) => ({ fields: Object.keys(a).sort(), device: a.deviceId, bk: a.bk.extractable,
                                     bkType: a.bk.algorithm.name })),
    storage: localStorage.length + sessionStorage.length };
  db.close();
  return out;
}"""

# The server's copy of the device list, checked in the page with ur1.js (signature under its MSK).
SERVER_LIST = """async () => {
  const ur1 = await import("/static/messaging/ur1.js");
  const response = await fetch("/api/messaging/devices", { credentials: "same-origin" });
  const mine = await response.json();
  const parsed = await ur1.parseDeviceList(mine.device_list);
  return { version: parsed.version, devices: parsed.devices.map((d) => d.id), msk: mine.device_list.msk };
}"""

# In-page use of the module: a cached plaintext and an epoch key to prove lock and wipe remove them.
SEED_PLAINTEXT = """async () => {
  const account = await import("/static/messaging/account.js");
  const ur1 = await import("/static/messaging/ur1.js");
  const store = await account.openStore();
  const me = await account.loadAccount(store);
  await store.put("cache", "m1", { text: "CANARY cached plaintext" });
  await store.put("outbox", "o1", { text: "CANARY unsent" });
  const key = await account.rememberEpochSecret(me, store,
    { room: ur1.b64uEncode(ur1.randomBytes(16)), epoch: 0, commitId: ur1.randomBytes(32), es: ur1.randomBytes(32) });
  return { inMemory: account.current() !== null, epochKeyExtractable: key.extractable, msk: me.msk };
}"""


# Before the restore: a verification pin and an epoch secret go into the backup (account.js).
PREPARE_BACKUP = """async (peer) => {
  const account = await import("/static/messaging/account.js");
  const ur1 = await import("/static/messaging/ur1.js");
  const store = await account.openStore();
  const me = await account.loadAccount(store);
  const peerMsk = (await ur1.ed25519FromSeed(ur1.randomBytes(32))).publicKey;
  await account.backupPins(me, { [peer]: { msk: peerMsk, verified: true } });
  const room = ur1.b64uEncode(ur1.randomBytes(16));
  const es = ur1.randomBytes(32);
  const kc = ur1.b64uEncode(await ur1.keyCommitment(es, room, 3));
  const commit = ur1.b64uEncode(ur1.randomBytes(32));
  const esText = ur1.b64uEncode(es);
  await account.rememberEpochSecret(me, store, { room, epoch: 3, commitId: commit, es });
  return { room, kc, commit, peerMsk: ur1.b64uEncode(peerMsk), es: esText, zeroed: es.every((b) => b === 0),
           user: me.user };
}"""

# After the restore: the pin is back, and the epoch key is used only for the commit whose kc it matches.
ADOPT = """async ({ room, kc, commit, peer }) => {
  const account = await import("/static/messaging/account.js");
  const ur1 = await import("/static/messaging/ur1.js");
  const store = await account.openStore();
  const pin = await store.get("pins", peer);
  const commitId = ur1.b64uDecode(commit, 32);
  const before = await store.loadEpochKey(room, 3);
  const forged = await account.adoptRestoredEpoch(store, { commit: { room, epoch: 3, kc: ur1.randomBytes(32) }, commitId });
  const otherCommit = await account.adoptRestoredEpoch(store,
    { commit: { room, epoch: 3, kc: ur1.b64uDecode(kc, 32) }, commitId: ur1.randomBytes(32) });
  const genuine = await account.adoptRestoredEpoch(store, { commit: { room, epoch: 3, kc: ur1.b64uDecode(kc, 32) }, commitId });
  const stored = await store.loadEpochKey(room, 3);
  return { pin: pin && { msk: ur1.b64uEncode(pin.msk), verified: pin.verified }, before: before === undefined,
           forged, otherCommit, genuine: genuine && genuine.extractable, stored: stored && stored.algorithm.name };
}"""

BACKUP_AS_STORED = """async () => ({
  params: (await (await fetch("/api/messaging/backup/params")).json()).params,
  items: (await (await fetch("/api/messaging/backup/items")).json()).items,
  mine: await (await fetch("/api/messaging/devices")).json(),
})"""


def new_member(server: LiveServer) -> str:
    handle = f"keys{secrets.token_hex(3)}"
    server.manage("shell", "-c", f"from membership.models import Local; from tests.factories import make_member; "
                                 f"make_member(Local.objects.order_by('pk').first(), handle='{handle}')")
    return handle


def password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD


def shown(page: Any, state: str) -> Any:
    found = page.locator(f'[data-state="{state}"]')
    found.wait_for(state="visible", timeout=20_000)
    return found


def test_keys_from_first_use_to_revocation_lock_and_wipe(people: Callable[..., Browsing], live_tessera: LiveServer,
                                                         tmp_path: Path) -> None:
    handle = new_member(live_tessera)

    # First use, at desktop size.
    first = people("desktop")
    log_in(first, handle, password())
    first.goto("/rooms/keys/")
    page = first.page
    shown(page, "start")
    page.get_by_role("button", name="Create my keys").click()
    sheet = shown(page, "show")
    recovery_key = "-".join(page.locator("[data-key] span").all_inner_texts())
    assert KEY.match(recovery_key), recovery_key
    first.screenshot("keys-recovery-key")
    page.emulate_media(media="print")
    first.screenshot("keys-recovery-key-print")
    assert not page.locator(".site-header").is_visible() and not page.locator(".ure2e-lock").is_visible()
    assert sheet.is_visible()
    page.emulate_media(media="screen")
    # Nothing is stored before the member confirms: no device list, no backup.
    nothing = page.evaluate("""async () => (await (await fetch("/api/messaging/backup/params")).json()).params""")
    assert nothing is None
    page.get_by_role("button", name="I have saved it").click()
    shown(page, "confirm")
    assert page.locator("[data-key] span").count() == 0  # off screen while typed back
    field = page.get_by_label("Type your recovery key")
    field.fill(recovery_key.replace("A", "B").replace("0", "1") if recovery_key != recovery_key.replace("0", "1")
               else "Z" * 32)
    page.get_by_role("button", name="Confirm and finish").click()
    assert page.locator("#confirm-error").is_visible() and field.get_attribute("aria-invalid") == "true"
    field.fill(recovery_key.lower().replace("-", " "))
    page.get_by_role("button", name="Confirm and finish").click()
    shown(page, "done")
    assert recovery_key not in page.content() and recovery_key.replace("-", "") not in page.content()
    first.goto("/rooms/keys/")
    shown(page, "ready-here")  # shown once: never again
    assert recovery_key not in page.content()
    state = page.evaluate(INSPECT)
    assert state["keys"] == [{"dsk": False, "dek": False, "types": ["Ed25519", "X25519"]}]
    assert state["accounts"][0]["bk"] is False and state["accounts"][0]["bkType"] == "AES-GCM"
    # No MSK on the device: its seed lives in the backup only.
    assert state["accounts"][0]["fields"] == ["bk", "deviceId", "devlist", "mskPub", "user", "v"]
    listed = page.evaluate(SERVER_LIST)
    assert listed["version"] == 1 and listed["devices"] == [state["accounts"][0]["device"]]
    first_device = listed["devices"][0]
    peer = "u" + secrets.token_hex(16)
    prepared = page.evaluate(PREPARE_BACKUP, peer)
    assert prepared["zeroed"] is True  # the raw epoch secret is wiped once backed up and imported

    # Cross-client: every item the browser sealed opens in the Python client, byte for byte.
    stored = page.evaluate(BACKUP_AS_STORED)
    bk = ur1.backup_key(ur1.derive_root(recovery_key, stored["params"], recovery_key=True), prepared["user"])
    opened = {item["kind"]: ur1.open_item(bk, prepared["user"], item) for item in stored["items"]}
    assert opened["epoch"] == {"room": prepared["room"], "epoch": 3, "commit": prepared["commit"], "es": prepared["es"]}
    assert opened["pins"] == {"pins": {peer: {"msk": prepared["peerMsk"], "verified": True}}}
    assert ur1.b64u_encode(ur1.ed25519_public(ur1.b64u_decode(opened["msk"]["seed"], 32))) == stored["mine"]["device_list"]["msk"]

    # A second browser (a phone) restores from the key; a wrong key first, which changes nothing.
    second = people("phone-360x740")
    log_in(second, handle, password())
    second.goto("/rooms/keys/")
    shown(second.page, "elsewhere")
    second.page.get_by_role("link", name="Restore on this device").click()
    shown(second.page, "form")
    key_field = second.page.get_by_label("Recovery key")
    key_field.fill("7" * 32)
    second.page.get_by_role("button", name="Restore").click()
    error = second.page.locator("[data-form-error]")
    error.wait_for(state="visible", timeout=20_000)
    assert "does not open your backup" in error.inner_text()
    second.screenshot("keys-restore-wrong-key")
    key_field.fill("not a key")
    second.page.get_by_role("button", name="Restore").click()
    expect(error).to_contain_text("32 letters", timeout=20_000)
    assert second.page.evaluate(SERVER_LIST)["version"] == 1
    assert second.page.evaluate(INSPECT).get("accounts", []) == []
    # A server that lowers the KDF cost (to brute-force the key offline) gets nothing, even for the right key.
    downgraded = {"params": {"v": 1, "kdf": "pbkdf2-sha256", "it": 1000, "salt": "hB8yWI5YCGszhnkItDQg7g"}}
    second.page.route("**/api/messaging/backup/params", lambda route: route.fulfill(json=downgraded))
    key_field.fill(recovery_key)
    second.page.get_by_role("button", name="Restore").click()
    shown(second.page, "error")
    assert "unsafe backup settings" in second.page.locator("[data-error]").inner_text()
    second.page.unroute("**/api/messaging/backup/params")
    assert second.page.evaluate(SERVER_LIST)["version"] == 1
    second.goto("/rooms/keys/restore/")
    shown(second.page, "form")
    key_field.fill(recovery_key)
    second.page.get_by_role("button", name="Restore").click()
    shown(second.page, "done")
    second.page.get_by_role("link", name="Your devices").click()
    shown(second.page, "list")
    rows = second.page.locator("[data-list] li")
    assert rows.count() == 2 and second.page.locator("[data-list] [data-this]:visible").count() == 1
    second.screenshot("keys-devices")
    listed = second.page.evaluate(SERVER_LIST)
    second_device = next(d for d in listed["devices"] if d != first_device)
    assert listed["version"] == 2 and first_device in listed["devices"]
    assert second.page.evaluate(INSPECT)["keys"][0]["dsk"] is False
    adopted = second.page.evaluate(ADOPT, {"room": prepared["room"], "kc": prepared["kc"], "commit": prepared["commit"],
                                           "peer": peer})
    assert adopted == {"pin": {"msk": prepared["peerMsk"], "verified": True}, "before": True, "forged": None,
                       "otherCommit": None, "genuine": False, "stored": "HKDF"}
    old_list = second.page.evaluate(BACKUP_AS_STORED)["mine"]  # version 2, kept to replay it later

    # Cross-client: the Python client restores the browser's backup with the same key.
    state_file = tmp_path / "python.json"
    env = {**live_tessera.env, "TESSERA_PASSWORD": password(), "TESSERA_RECOVERY_KEY": recovery_key}
    for args in (["login", "--server", live_tessera.url, "--handle", handle], ["restore"], ["devices"]):
        done = subprocess.run([sys.executable, "-m", "messaging.client", "--state", str(state_file), *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("version 3") and len(done.stdout.strip().splitlines()) == 4
    python_device = json.loads(state_file.read_text())["keys"]["device"]

    # The first browser revokes the phone, after a confirmation (cancel first: nothing happens).
    first.goto("/rooms/devices/")
    shown(page, "list")
    assert page.locator("[data-list] li").count() == 3
    row = page.locator(f'[data-list] li[data-device="{second_device}"]')
    row.get_by_role("button").click()
    dialog = page.locator("dialog[data-confirm]")
    assert dialog.is_visible()
    first.screenshot("keys-revoke-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    assert page.locator("[data-list] li").count() == 3 and page.evaluate(SERVER_LIST)["version"] == 3
    row.get_by_role("button").click()
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.locator("[data-list] li")).to_have_count(2, timeout=20_000)
    listed = page.evaluate(SERVER_LIST)
    assert listed["version"] == 4 and sorted(listed["devices"]) == sorted([first_device, python_device])

    # A server replaying an older (genuinely signed) list is refused: rollback (§4.3).
    page.route("**/api/messaging/devices", lambda route: route.fulfill(json=old_list))
    first.goto("/rooms/devices/")
    shown(page, "error")
    assert "older list of your devices" in page.locator("[data-error]").inner_text()
    page.unroute("**/api/messaging/devices")

    # Revoking logged out every other session, the phone's among them; logged in again, it sees a
    # signed list without itself and erases its keys at once.
    second.goto("/rooms/devices/")
    assert "/account/login/" in second.page.url
    log_in(second, handle, password())
    second.goto("/rooms/devices/")
    expect(second.page.locator("[data-lock-status]")).to_contain_text("removed from your devices", timeout=20_000)
    assert not second.page.locator('[data-state="list"]').is_visible()
    expect(second.page.get_by_role("link", name="Restore on this device")).to_be_visible()
    second.screenshot("keys-revoked-device")
    assert second.page.evaluate(INSPECT) == {"database": False}

    # Lock: the plaintext cache and the outbox are emptied, the keys leave memory, the session ends;
    # the device keys stay (non-extractable) for the next login.
    first.goto("/rooms/devices/")
    shown(page, "list")
    seeded = page.evaluate(SEED_PLAINTEXT)
    assert seeded == {"inMemory": True, "epochKeyExtractable": False, "msk": None}
    before = page.evaluate(INSPECT)
    assert before["cache"] == 1 and before["outbox"] == 1 and before["epochs"] == [False, False]
    other_tab = page.context.new_page()
    other_tab.goto(f"{live_tessera.url}/rooms/devices/")
    shown(other_tab, "list")
    page.get_by_role("button", name="Lock", exact=True).click()
    page.wait_for_url(re.compile(r"/account/login/"))
    # The other tab of this browser dropped what it showed at once, through the BroadcastChannel.
    expect(other_tab.locator('[data-state="list"]')).to_be_hidden()
    expect(other_tab.locator("[data-lock-status]")).to_contain_text("Locked")
    other_tab.close()
    after = page.evaluate(INSPECT)
    assert after["cache"] == 0 and after["outbox"] == 0
    assert after["keys"] == before["keys"] and after["accounts"] == before["accounts"]
    first.goto("/rooms/devices/")  # the session ended: the page sends to the login form
    assert "/account/login/" in page.url
    log_in(first, handle, password())
    first.goto("/rooms/devices/")
    shown(page, "list")

    # Panic wipe: the whole database goes, with the session.
    page.get_by_role("button", name="Panic wipe").click()
    page.wait_for_url(re.compile(r"/account/login/"))
    assert page.evaluate(INSPECT) == {"database": False}
    log_in(first, handle, password())
    first.goto("/rooms/devices/")
    shown(page, "none")
    first.screenshot("keys-devices-after-wipe")


def test_an_old_browser_is_told_to_update(people: Callable[..., Browsing], live_tessera: LiveServer) -> None:
    handle = new_member(live_tessera)
    browsing = people("phone-360x740")
    # An engine without Ed25519 in WebCrypto (before Chrome 137, say).
    browsing.page.context.add_init_script("""(() => {
      const generate = crypto.subtle.generateKey.bind(crypto.subtle);
      crypto.subtle.generateKey = (algorithm, ...rest) => ((algorithm === "Ed25519" || algorithm?.name === "Ed25519")
        ? Promise.reject(new DOMException("Algorithm: Unrecognized name", "NotSupportedError")) : generate(algorithm, ...rest));
    })();""")
    log_in(browsing, handle, password())
    for path in ("/rooms/keys/", "/rooms/keys/restore/", "/rooms/devices/"):
        browsing.goto(path)
        notice = shown(browsing.page, "unsupported")
        assert "update your browser" in notice.inner_text().lower()
    browsing.screenshot("keys-unsupported")
    state = browsing.page.evaluate("""async () => (await (await fetch("/api/messaging/devices")).json()).device_list""")
    assert state is None  # nothing was made or published


ENROLL_HERE = """async () => {
  const account = await import("/static/messaging/account.js");
  const store = await account.openStore();
  const { account: me, recoveryKey } = await account.enroll(store);
  return { device: me.deviceId, recoveryKey, msk: me.mskPub };
}"""


def test_a_member_who_lost_the_recovery_key_starts_again(people: Callable[..., Browsing], live_tessera: LiveServer,
                                                         tmp_path: Path) -> None:
    handle = new_member(live_tessera)
    old = people("desktop")
    log_in(old, handle, password())
    old.goto("/rooms/devices/")
    shown(old.page, "none")
    before = old.page.evaluate(ENROLL_HERE)

    fresh = people("phone-360x740")
    log_in(fresh, handle, password())
    fresh.goto("/rooms/keys/")
    shown(fresh.page, "elsewhere")
    fresh.page.get_by_text("I lost my recovery key").click()
    start_again = fresh.page.get_by_role("button", name="Start again with new keys")
    assert start_again.is_disabled()  # not without saying they understand what is lost
    fresh.page.get_by_label("I understand").check()
    fresh.screenshot("keys-reset")
    start_again.click()
    shown(fresh.page, "show")
    new_key = "-".join(fresh.page.locator("[data-key] span").all_inner_texts())
    assert KEY.match(new_key) and new_key != before["recoveryKey"]
    fresh.page.get_by_role("button", name="I have saved it").click()
    fresh.page.get_by_label("Type your recovery key").fill(new_key)
    fresh.page.get_by_role("button", name="Confirm and finish").click()
    shown(fresh.page, "done")
    listed = fresh.page.evaluate(SERVER_LIST)
    assert listed["version"] == 2 and len(listed["devices"]) == 1 and before["device"] not in listed["devices"]
    assert listed["msk"] != before["msk"]

    # Starting again revoked every other device, so it logged out their sessions; logged in again,
    # the old device cannot verify the new list under the key it knows: it says so, trusts nothing.
    old.goto("/rooms/devices/")
    assert "/account/login/" in old.page.url
    log_in(old, handle, password())
    old.goto("/rooms/devices/")
    shown(old.page, "error")
    assert "key was replaced on another device" in old.page.locator("[data-error]").inner_text()

    # The old recovery key opens nothing any more; the new one restores (here in the Python client).
    state_file = tmp_path / "python.json"
    env = {**live_tessera.env, "TESSERA_PASSWORD": password()}
    run = [sys.executable, "-m", "messaging.client", "--state", str(state_file)]
    done = subprocess.run([*run, "login", "--server", live_tessera.url, "--handle", handle], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*run, "restore"], cwd=REPO, env={**env, "TESSERA_RECOVERY_KEY": before["recoveryKey"]},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "does not open your backup" in done.stderr
    done = subprocess.run([*run, "restore"], cwd=REPO, env={**env, "TESSERA_RECOVERY_KEY": new_key},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "version 3" in done.stdout, done.stderr
