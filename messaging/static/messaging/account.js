// This browser's identity in the encrypted rooms (UR1 spec §4.3, §4.9, §4.10): enrolment with a
// recovery key, restore on a new device, the member's signed device list (list, revoke), epoch
// secrets into the backup, and "lock" / "panic wipe". Plain ES module on ur1.js, ur1-store.js and
// api.js; no library.
//
// The account object the room pages take:
//   { user, deviceId, mskPub (b64u), deviceKeys: {dsk, dek} (private keys non-extractable),
//     bk (non-extractable AES-GCM CryptoKey), msk: null }
//
// Where the MSK private key lives (decision): NOT on the device. Its seed lives only in the backup
// (an item of kind "msk", sealed under BK), as §4.3 says. Signing a device list (restore, revoke)
// opens that item with BK, imports the seed as a non-extractable Ed25519 key, signs, zeroes the
// seed and drops the key: `account.msk` stays null. Honest limit: §4.9 puts BK on every device and
// the MSK item under BK, so code that can use BK (an XSS while it runs, or whoever holds the unlocked
// profile) can open the MSK item too; keeping the MSK off the device only keeps a copy of the
// IndexedDB files alone from holding it. Making device-list changes need the recovery key would
// need a second key (a spec change), not a browser decision.
//
// Backup item payloads (the Python client, messaging/client/__main__.py, reads and writes the same):
//   msk:   {"seed": b64u(32-byte Ed25519 seed)}
//   pins:  {"pins": {user_id: {"msk": b64u(32), "verified": bool}}}   (one item; the highest `ver` wins)
//   epoch: {"room", "epoch", "commit": b64u(commit id), "es": b64u(32)} (§4.9; checked against kc before use)
//
// IndexedDB ("ure2e", ur1-store.js): store "account", key = user id -> {v, user, deviceId, mskPub, bk,
// devlist: {user, version, sig}} (the highest own device list accepted: rollback is refused, §4.3);
// "account" also holds "epoch-item:<room>:<epoch>" (already backed up), "outgoing:<id>" (sealed
// items not uploaded yet) and "restored:<room>:<epoch>" (epoch keys from the backup awaiting their
// commit's kc check). Store "keys": the device key pairs. Store "pins": user id -> {msk, verified}.
//
// Lock and wipe dispatch `ure2e:locked` on window (detail: {wiped, reason}) and tell other tabs through a
// BroadcastChannel; room pages drop their keys and the plaintext on screen when they hear it.

import * as ur1 from "./ur1.js";
import * as api from "./api.js";
import { Store } from "./ur1-store.js";

export const DB_NAME = "ure2e";
const CHANNEL = "ure2e-account";
const RECOVERY_KEY = /^[0-9A-HJKMNP-TV-Z]{32}$/;

// Errors the pages turn into sentences (the sentences come from the template, by `code`).
export class AccountError extends Error {
  constructor(code, message = code) {
    super(message);
    this.name = "AccountError";
    this.code = code;
  }
}

const PAGE_ID = Math.random().toString(36).slice(2); // this page's messages to other tabs are not for itself
let unlocked = null; // the account loaded in this page, dropped by lock() and wipe()
const stores = new Set(); // handles this module opened, closed by lock() and wipe()

// --- small helpers --------------------------------------------------------------------------------

function meta(name) {
  const found = typeof document !== "undefined" ? document.querySelector(`meta[name="${name}"]`) : null;
  return found ? found.content : "";
}

// The UR1 user id of whoever is logged in on this page (<meta name="ure2e-user">).
export function pageUser() {
  return meta("ure2e-user");
}

export function current() {
  return unlocked;
}

export async function openStore() {
  const store = await Store.open(DB_NAME);
  stores.add(store);
  return store;
}

function nowUnix() {
  return Math.floor(Date.now() / 1000);
}

// A 32-byte key as b64u, from bytes or from b64u (checked).
function key32(value) {
  if (value instanceof Uint8Array) return ur1.b64uEncode(ur1.b64uDecode(ur1.b64uEncode(value), 32));
  ur1.b64uDecode(value, 32);
  return value;
}

function clearStores(store, names) {
  return new Promise((resolve, reject) => {
    const tx = store.db.transaction(names, "readwrite");
    for (const name of names) tx.objectStore(name).clear();
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(new AccountError("storage"));
    tx.onabort = () => reject(new AccountError("storage"));
  });
}

function deleteKey(store, name, key) {
  return new Promise((resolve, reject) => {
    const tx = store.db.transaction(name, "readwrite");
    tx.objectStore(name).delete(key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(new AccountError("storage"));
  });
}

function keysWithPrefix(store, name, prefix) {
  return new Promise((resolve, reject) => {
    const tx = store.db.transaction(name, "readonly");
    const req = tx.objectStore(name).getAllKeys(IDBKeyRange.bound(prefix, `${prefix}\uffff`));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new AccountError("storage"));
  });
}

// Browser support, checked before anything else (§2.1): Ed25519 and X25519 in WebCrypto (by
// generating one key of each), IndexedDB and Web Locks. False means "update your browser".
export async function checkSupport() {
  if (typeof indexedDB === "undefined" || !globalThis.crypto?.subtle || !navigator.locks) return false;
  return ur1.supported();
}

// A recovery key as typed: spaces and dashes dropped, upper case, and the look-alikes a person may
// type (O for 0, I or L for 1) mapped, since Crockford's alphabet has none of them. Anything but 32
// characters of the alphabet is refused before the slow KDF runs.
export function cleanRecoveryKey(text) {
  const cleaned = String(text).normalize("NFC").toUpperCase().replace(/[\s-]/g, "")
    .replace(/O/g, "0").replace(/[IL]/g, "1");
  if (!RECOVERY_KEY.test(cleaned)) throw new AccountError("key-format");
  return cleaned.match(/.{4}/g).join("-");
}

// --- the own device list --------------------------------------------------------------------------

function pinnedList(record) {
  return record.devlist ? { user: record.devlist.user, version: record.devlist.version, sig: record.devlist.sig } : null;
}

// The server's copy of this user's device list, accepted as a client must: signed by this
// account's own MSK, never older than the newest one this browser accepted (§4.3). Remembered.
async function acceptOwnList(store, record, body) {
  if (!body) throw new AccountError("no-list");
  let parsed;
  try {
    parsed = await ur1.acceptDeviceList(body, { pinnedMsk: ur1.b64uDecode(record.mskPub, 32), current: pinnedList(record) });
  } catch (error) {
    if (error instanceof ur1.UR1Error) {
      const replayed = /rollback|two device lists/.test(error.message);
      const changed = /master signing key changed/.test(error.message);
      throw new AccountError(replayed ? "rollback" : changed ? "msk-changed" : "bad-list", error.message);
    }
    throw error;
  }
  if (parsed.user !== record.user) throw new AccountError("bad-list", "device list of another user");
  record.devlist = { user: parsed.user, version: parsed.version, sig: parsed.sig };
  await store.put("account", record.user, record);
  return parsed;
}

// The seed of the MSK item that opens under `bk` and matches `mskPub`: MSK signer (non-extractable).
async function openMsk(bk, user, items, mskPub) {
  let opened = false;
  for (const item of items.filter((i) => i.kind === "msk")) {
    let payload;
    try {
      payload = await ur1.openItem(bk, user, item);
    } catch {
      continue; // sealed under another key (an older enrolment) or tampered with
    }
    opened = true;
    let seed;
    try {
      seed = ur1.b64uDecode(payload.seed, 32);
    } catch {
      continue;
    }
    const signer = await ur1.ed25519FromSeed(seed);
    seed.fill(0);
    if (ur1.equalBytes(signer.publicKey, mskPub)) return signer;
  }
  throw new AccountError(opened ? "msk-mismatch" : "wrong-key");
}

async function unlockMsk(account) {
  const { items } = await api.get("/backup/items");
  return openMsk(account.bk, account.user, items, ur1.b64uDecode(account.mskPub, 32));
}

function listedDevices(parsed) {
  return parsed.devices.map((d) => ({ id: d.id, dsk: d.dsk, dek: d.dek, added: d.added }));
}

async function publish(signed) {
  try {
    return await api.post("/devices", signed);
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 400) throw new AccountError("refused", error.detail);
    throw error;
  }
}

async function saveAccount(store, record, deviceKeys) {
  await store.saveDeviceKeys(record.deviceId, deviceKeys);
  await store.put("account", record.user, record);
  unlocked = { user: record.user, deviceId: record.deviceId, mskPub: record.mskPub, deviceKeys, bk: record.bk, msk: null };
  return unlocked;
}

// --- load, enrol, restore --------------------------------------------------------------------------

// This browser's account for `user`, or null when this device is not set up for them.
export async function loadAccount(store, user = pageUser()) {
  if (!user) return null;
  const record = await store.get("account", user);
  if (!record) return null;
  const deviceKeys = await store.loadDeviceKeys(record.deviceId);
  if (!deviceKeys) return null;
  unlocked = { user, deviceId: record.deviceId, mskPub: record.mskPub, deviceKeys, bk: record.bk, msk: null };
  flushBackup(unlocked, store).catch(() => {}); // items sealed while offline; retried at every load
  return unlocked;
}

// First use, in two steps so the recovery key is shown before anything is stored: `beginEnroll`
// makes every key and seals the backup in memory, and returns the recovery key; `finish()` stores
// the backup and publishes the device list once the member confirmed they saved the key.
// A page that goes away before `finish()` leaves nothing behind, on the server or here.
//
// `reset: true` is for a member who lost their recovery key: a new MSK and a new backup, and a
// device list of the next version holding only this device (every other device is revoked). Other
// members see the key change and must verify again (§4.3); what the old backup held is lost.
export async function beginEnroll(store, user = pageUser(), { reset = false } = {}) {
  const mine = await api.get("/devices");
  if (!user || mine.user !== user) throw new AccountError("wrong-user");
  if (mine.device_list && !reset) throw new AccountError("exists");
  let version = 1;
  if (mine.device_list) {
    try {
      version = (await ur1.parseDeviceList(mine.device_list)).version + 1;
    } catch {
      throw new AccountError("bad-list");
    }
  }
  const recoveryKey = ur1.generateRecoveryKey();
  const params = ur1.newParams();
  const root = await ur1.deriveRoot(recoveryKey, params, { recoveryKey: true });
  const bk = await ur1.backupKey(root, user);
  root.fill(0);
  const seed = ur1.randomBytes(32);
  const msk = await ur1.ed25519FromSeed(seed);
  const mskItem = await ur1.sealItem(bk, user, "msk", { seed: ur1.b64uEncode(seed) });
  seed.fill(0);
  const deviceKeys = await ur1.generateDeviceKeys();
  const deviceId = ur1.b64uEncode(ur1.randomBytes(16));
  const signed = await ur1.signDeviceList(msk, user, version, [
    { id: deviceId, dsk: deviceKeys.dsk.publicKey, dek: deviceKeys.dek.publicKey, added: nowUnix() }]);
  let finished = null;
  const finish = async () => {
    if (finished) return finished;
    await api.put("/backup/params", { params });
    await api.put("/backup/items", mskItem);
    await publish(signed);
    const record = { v: 1, user, deviceId, mskPub: ur1.b64uEncode(msk.publicKey), bk, devlist: null };
    await acceptOwnList(store, record, signed);
    finished = await saveAccount(store, record, deviceKeys);
    return finished;
  };
  return { recoveryKey, finish };
}

// Both steps at once (tests and scripts): {account, recoveryKey}.
export async function enroll(store, user = pageUser(), options = {}) {
  const pending = await beginEnroll(store, user, options);
  return { account: await pending.finish(), recoveryKey: pending.recoveryKey };
}

// A new device from the recovery key (§4.9): the backup's MSK certifies fresh device keys in the
// next version of the device list. A wrong key, a missing backup or a server that lowered the KDF
// cost changes nothing anywhere and throws AccountError ("wrong-key", "no-backup", "bad-params"...).
export async function restore(store, recoveryKey, user = pageUser()) {
  const typed = cleanRecoveryKey(recoveryKey);
  if (await store.get("account", user)) throw new AccountError("already");
  const mine = await api.get("/devices");
  if (!user || mine.user !== user) throw new AccountError("wrong-user");
  if (!mine.device_list) throw new AccountError("no-account");
  const { params } = await api.get("/backup/params");
  if (!params) throw new AccountError("no-backup");
  try {
    ur1.checkParams(params);
  } catch {
    throw new AccountError("bad-params");
  }
  const root = await ur1.deriveRoot(typed, params, { recoveryKey: true });
  const bk = await ur1.backupKey(root, user);
  root.fill(0);
  const { items } = await api.get("/backup/items");
  if (!items.some((i) => i.kind === "msk")) throw new AccountError("no-backup");
  let parsed;
  try {
    parsed = await ur1.parseDeviceList(mine.device_list);
  } catch {
    throw new AccountError("bad-list");
  }
  const msk = await openMsk(bk, user, items, parsed.msk);
  const record = { v: 1, user, deviceId: ur1.b64uEncode(ur1.randomBytes(16)), mskPub: ur1.b64uEncode(parsed.msk), bk,
    devlist: null };
  await acceptOwnList(store, record, mine.device_list); // refuses a rollback below what this browser saw
  const deviceKeys = await ur1.generateDeviceKeys();
  const devices = [...listedDevices(parsed),
    { id: record.deviceId, dsk: deviceKeys.dsk.publicKey, dek: deviceKeys.dek.publicKey, added: nowUnix() }];
  const signed = await ur1.signDeviceList(msk, user, parsed.version + 1, devices);
  await publish(signed);
  await acceptOwnList(store, record, signed);
  const account = await saveAccount(store, record, deviceKeys);
  await restorePins(account, store, items);
  await restoreEpochSecrets(account, store, { items });
  return account;
}

// --- devices -----------------------------------------------------------------------------------------

// This user's devices from their signed device list: [{id, added (unix s), thisDevice}], newest list.
// A verified list that no longer holds this device means it was revoked elsewhere: its keys are
// erased at once (wipe) and AccountError("revoked") is thrown.
export async function listDevices(account, store) {
  const record = await store.get("account", account.user);
  if (!record) throw new AccountError("no-account");
  const mine = await api.get("/devices");
  const parsed = await acceptOwnList(store, record, mine.device_list);
  if (!parsed.devices.some((d) => d.id === account.deviceId)) {
    await wipe({ reason: "revoked" });
    throw new AccountError("revoked");
  }
  return {
    version: parsed.version,
    devices: parsed.devices.map((d) => ({ id: d.id, added: d.added, thisDevice: d.id === account.deviceId }))
      .sort((a, b) => a.added - b.added || ur1.compareUtf8(a.id, b.id)),
  };
}

// Revoke another of this user's devices: the next device list without it, signed by the MSK from
// the backup (§4.3). This device cannot revoke itself here: that is what "panic wipe" is for.
export async function revokeDevice(account, store, deviceId) {
  if (deviceId === account.deviceId) throw new AccountError("self");
  const record = await store.get("account", account.user);
  const mine = await api.get("/devices");
  const parsed = await acceptOwnList(store, record, mine.device_list);
  if (!parsed.devices.some((d) => d.id === deviceId)) throw new AccountError("unknown-device");
  const msk = await unlockMsk(account);
  const signed = await ur1.signDeviceList(msk, account.user, parsed.version + 1,
    listedDevices(parsed).filter((d) => d.id !== deviceId));
  await publish(signed);
  await acceptOwnList(store, record, signed);
  return listDevices(account, store);
}

// --- backup of epoch secrets and pins ---------------------------------------------------------------

// One sealed item up to the server. Kept in "outgoing:" until it is stored, so an item sealed
// offline goes up later (flushBackup); one the server refuses (400) is dropped. True when stored.
async function flushOne(store, key, item) {
  try {
    await api.put("/backup/items", item);
  } catch (error) {
    if (!(error instanceof api.ApiError) || error.status !== 400) return false;
  }
  await deleteKey(store, "account", key);
  return true;
}

async function upload(store, item) {
  const key = `outgoing:${item.id}`;
  await store.put("account", key, item); // sealed under BK: safe to keep until it is uploaded
  return flushOne(store, key, item);
}

// Upload what was sealed while the server could not be reached.
export async function flushBackup(account, store) {
  for (const key of await keysWithPrefix(store, "account", "outgoing:")) {
    await flushOne(store, key, await store.get("account", key));
  }
}

// A new epoch secret from a wrap (or a commit this device made): seal its backup item while the raw
// bytes are in memory, import it as a non-extractable HKDF key (§4.10), zero the bytes, then
// upload the sealed item (kept in IndexedDB until the server has it). Returns the key.
export async function rememberEpochSecret(account, store, { room, epoch, commitId, es }) {
  const commit = commitId instanceof Uint8Array ? ur1.b64uEncode(commitId) : commitId;
  const marker = `epoch-item:${room}:${epoch}`;
  let item = null;
  let key;
  try {
    if (!(await store.get("account", marker))) {
      item = await ur1.sealItem(account.bk, account.user, "epoch", { room, epoch, commit, es: ur1.b64uEncode(es) });
    }
    key = await ur1.importEpochSecret(es);
  } finally {
    es.fill(0);
  }
  await store.saveEpochKey(room, epoch, key);
  if (item) {
    await store.put("account", marker, item.id);
    await upload(store, item);
  }
  return key;
}

// Epoch secrets from the backup (after a restore, or to fill gaps). Each is imported at once as a
// non-extractable HKDF key. It is used only once checked against its signed commit (§4.9): with
// `acceptedFor(room, epoch) -> accepted commit | null` now, otherwise later by adoptRestoredEpoch()
// when the room page has accepted that commit. Returns {restored, pending, failed}.
export async function restoreEpochSecrets(account, store, { acceptedFor = null, items = null } = {}) {
  const all = items || (await api.get("/backup/items")).items;
  const counts = { restored: 0, pending: 0, failed: 0 };
  for (const item of all.filter((i) => i.kind === "epoch")) {
    let payload;
    try {
      payload = await ur1.openItem(account.bk, account.user, item);
      ur1.checkId16(payload.room);
      ur1.checkInt(payload.epoch);
      ur1.b64uDecode(payload.commit, 32);
    } catch {
      counts.failed += 1;
      continue;
    }
    if (await store.loadEpochKey(payload.room, payload.epoch)) continue;
    await store.put("account", `epoch-item:${payload.room}:${payload.epoch}`, item.id);
    const accepted = acceptedFor ? await acceptedFor(payload.room, payload.epoch) : null;
    let es = null;
    try {
      if (accepted) {
        es = await ur1.restoreEpochSecret(payload, accepted);
        await store.saveEpochKey(payload.room, payload.epoch, await ur1.importEpochSecret(es));
        counts.restored += 1;
      } else {
        es = ur1.b64uDecode(payload.es, 32);
        const key = await ur1.importEpochSecret(es);
        await store.put("account", `restored:${payload.room}:${payload.epoch}`,
          { room: payload.room, epoch: payload.epoch, commit: payload.commit, key });
        counts.pending += 1;
      }
    } catch {
      counts.failed += 1;
    } finally {
      if (es) es.fill(0);
    }
  }
  return counts;
}

// The epoch key from the backup for this accepted commit, if its commit id and kc match (§4.9);
// it becomes the room's epoch key. Null when the backup had none, or it did not match.
export async function adoptRestoredEpoch(store, accepted) {
  const c = accepted.commit;
  const marker = `restored:${c.room}:${c.epoch}`;
  const pending = await store.get("account", marker);
  if (!pending) return null;
  // A commit that does not match is not the one the secret was backed up for (a fork, or a server
  // showing another chain): the entry stays for the genuine one.
  if (!ur1.equalBytes(ur1.b64uDecode(pending.commit, 32), accepted.commitId)) return null;
  if (!ur1.equalBytes(await ur1.keyCommitment(pending.key, c.room, c.epoch), c.kc)) return null;
  await store.saveEpochKey(c.room, c.epoch, pending.key);
  await deleteKey(store, "account", marker);
  return pending.key;
}

function pinsPayload(pins) {
  const out = {};
  for (const [user, pin] of Object.entries(pins)) {
    ur1.checkUserId(user);
    out[user] = { msk: key32(pin.msk), verified: Boolean(pin.verified) };
  }
  return { pins: out };
}

async function newestPins(account, items) {
  let best = null;
  for (const item of items.filter((i) => i.kind === "pins")) {
    try {
      const payload = await ur1.openItem(account.bk, account.user, item);
      if (!best || item.ver > best.item.ver) best = { item, payload };
    } catch {
      // not ours, or tampered with: ignored
    }
  }
  return best;
}

// Back up the verification pins (web-verify calls this after a pin changes): merged into the one
// "pins" item, replaced at the next version. {user: {msk: Uint8Array|b64u, verified}}.
export async function backupPins(account, pins) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const best = await newestPins(account, (await api.get("/backup/items")).items);
    const merged = { ...(best && best.payload.pins && typeof best.payload.pins === "object" ? best.payload.pins : {}),
      ...pinsPayload(pins).pins };
    const item = await ur1.sealItem(account.bk, account.user, "pins", { pins: merged },
      best ? { id: best.item.id, ver: best.item.ver + 1 } : {});
    try {
      await api.put("/backup/items", item);
      return item;
    } catch (error) {
      if (!(error instanceof api.ApiError) || error.status !== 400) throw error; // a race: read again
    }
  }
  throw new AccountError("pins");
}

async function restorePins(account, store, items) {
  const best = await newestPins(account, items);
  const pins = best && best.payload.pins && typeof best.payload.pins === "object" ? best.payload.pins : {};
  for (const [user, pin] of Object.entries(pins)) {
    try {
      ur1.checkUserId(user);
      const msk = ur1.checkEd25519Public(ur1.b64uDecode(pin.msk, 32));
      const known = await store.get("pins", user);
      if (!known) await store.put("pins", user, { msk, verified: pin.verified === true });
    } catch {
      // a malformed pin is skipped: it will be pinned again on first use
    }
  }
}

// --- lock and panic wipe -------------------------------------------------------------------------

function announce(kind, fromOtherTab = false, reason = "") {
  unlocked = null;
  if (typeof window !== "undefined") {
    window.dispatchEvent(new CustomEvent("ure2e:locked", { detail: { wiped: kind === "wipe", reason } }));
  }
  if (!fromOtherTab && typeof BroadcastChannel !== "undefined") {
    const channel = new BroadcastChannel(CHANNEL);
    channel.postMessage({ kind, from: PAGE_ID });
    channel.close();
  }
}

function closeStores() {
  for (const store of stores) {
    try {
      if (store.db) store.close();
    } catch {
      // already closed
    }
  }
  stores.clear();
}

// "Lock": drop the keys held in memory (here and, through the event, in the room pages), forget the
// decrypted cache and the unsent outbox. Device keys stay in IndexedDB for the next login; the page
// then ends the session (templates/messaging/_lock.html), so getting back needs the password.
export async function lock({ fromOtherTab = false } = {}) {
  announce("lock", fromOtherTab);
  const store = await Store.open(DB_NAME);
  try {
    await clearStores(store, ["cache", "outbox"]);
  } finally {
    store.close();
  }
  closeStores();
  try {
    sessionStorage.clear();
  } catch {
    // storage disabled
  }
}

function deleteDatabase(name) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve(true);
    req.onerror = () => reject(new AccountError("wipe"));
    // Other tabs close their handles on "versionchange" (ur1-store.js); if one does not within 3 s the
    // deletion still happens as soon as it does.
    req.onblocked = () => setTimeout(() => resolve(false), 3000);
  });
}

// "Panic wipe": delete this browser's whole key database (device keys, BK, epoch keys, pins, cached
// plaintext, outbox) and the origin's session, local and Cache storage, at once. Restoring needs
// the recovery key.
export async function wipe({ fromOtherTab = false, reason = "" } = {}) {
  announce("wipe", fromOtherTab, reason);
  closeStores();
  const deleted = deleteDatabase(DB_NAME);
  for (const storage of ["sessionStorage", "localStorage"]) {
    try {
      globalThis[storage].clear();
    } catch {
      // storage disabled
    }
  }
  if (globalThis.caches) {
    for (const name of await caches.keys()) await caches.delete(name);
  }
  return deleted;
}

// Another tab locked or wiped: do the same here (the database is shared, memory is not).
if (typeof BroadcastChannel !== "undefined") {
  const listener = new BroadcastChannel(CHANNEL);
  listener.onmessage = (event) => {
    const { kind, from } = event.data || {};
    if (from === PAGE_ID) return;
    if (kind === "lock") lock({ fromOtherTab: true }).catch(() => {});
    if (kind === "wipe") wipe({ fromOtherTab: true }).catch(() => {});
  };
}
