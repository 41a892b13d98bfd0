// Browser key storage for UR1 (spec §4.10): device keys as non-extractable CryptoKey objects in
// IndexedDB (structured clone), per-(room, epoch, device) send counters read-incremented-persisted
// under navigator.locks so two tabs never reuse a counter (§4.7), the persistent replay set, and
// "panic wipe". Plain ES module, no library.

import { UR1Error } from "./ur1.js";

// Version 2 adds the stores the pages share: "account" (this browser's user, device id, MSK public
// key, the backup key BK as a non-extractable CryptoKey; account.js owns it), "pins" (TOFU/verified
// MSK pins per user; verify.js owns the UI), "cache" (decrypted messages, encrypted under a
// non-extractable AES key) and "outbox" (messages typed but not yet acknowledged, for retry).
const VERSION = 2;
const STORES = ["keys", "counters", "seen", "epochs", "account", "pins", "cache", "outbox"];

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new UR1Error("key storage failed"));
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(new UR1Error("key storage failed"));
    tx.onabort = () => reject(new UR1Error("key storage failed"));
  });
}

export class Store {
  constructor(db) {
    this.db = db;
  }

  static async open(name = "ure2e") {
    const req = indexedDB.open(name, VERSION);
    req.onupgradeneeded = () => {
      for (const store of STORES) if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store);
    };
    const db = await request(req);
    // A panic wipe in any tab deletes the database: let go of it at once instead of blocking that.
    db.onversionchange = () => db.close();
    return new Store(db);
  }

  async get(store, key) {
    const tx = this.db.transaction(store, "readonly");
    const value = await request(tx.objectStore(store).get(key));
    await done(tx);
    return value;
  }

  async put(store, key, value) {
    const tx = this.db.transaction(store, "readwrite");
    tx.objectStore(store).put(value, key);
    await done(tx);
  }

  // Device keys ({dsk, dek} key pairs from generateDeviceKeys): the CryptoKeys are stored as they
  // are, so non-extractable keys stay non-extractable; XSS can use them while it runs, not copy them.
  async saveDeviceKeys(deviceId, keys) {
    if (keys.dsk.privateKey.extractable || keys.dek.privateKey.extractable) {
      throw new UR1Error("device keys must be non-extractable");
    }
    await this.put("keys", `device:${deviceId}`, keys);
  }

  loadDeviceKeys(deviceId) {
    return this.get("keys", `device:${deviceId}`);
  }

  // The next send counter for (room, epoch, device): read, increment, persist, under the room's lock
  // (§4.7: navigator.locks.request("ure2e-send-"+room, …)), then returned.
  nextCounter(room, epoch, deviceId) {
    return navigator.locks.request(`ure2e-send-${room}`, async () => {
      const tx = this.db.transaction("counters", "readwrite");
      const counters = tx.objectStore("counters");
      const key = JSON.stringify([room, epoch, deviceId]);
      const ctr = (await request(counters.get(key))) ?? 0;
      counters.put(ctr + 1, key);
      await done(tx);
      return ctr;
    });
  }

  // Persistent replay set: true the first time (room, epoch, device, ctr) is marked, false after.
  async markSeen(room, epoch, deviceId, ctr) {
    const tx = this.db.transaction("seen", "readwrite");
    const seen = tx.objectStore("seen");
    const key = JSON.stringify([room, epoch, deviceId, ctr]);
    const first = (await request(seen.getKey(key))) === undefined;
    if (first) seen.put(Date.now(), key);
    await done(tx);
    return first;
  }

  // An epoch secret as a non-extractable HKDF CryptoKey (importEpochSecret), never the raw bytes.
  async saveEpochKey(room, epoch, key) {
    if (key.extractable) throw new UR1Error("epoch keys must be non-extractable");
    await this.put("epochs", JSON.stringify([room, epoch]), key);
  }

  loadEpochKey(room, epoch) {
    return this.get("epochs", JSON.stringify([room, epoch]));
  }

  // Retention (§4.8): forget epoch keys and replay entries of epochs older than `keepFrom`.
  async forgetEpochsBefore(room, keepFrom) {
    for (const store of ["epochs", "seen", "counters"]) {
      const tx = this.db.transaction(store, "readwrite");
      const objects = tx.objectStore(store);
      for (const key of await request(objects.getAllKeys())) {
        const [r, e] = JSON.parse(key);
        if (r === room && e < keepFrom) objects.delete(key);
      }
      await done(tx);
    }
  }

  // "Lock": drop this handle; keys stay stored but are no longer reachable from this object.
  close() {
    this.db.close();
    this.db = null;
  }
}

// "Panic wipe": delete the whole database (keys, counters, replay set, epoch keys).
export function panicWipe(name = "ure2e") {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(new UR1Error("wipe failed"));
    req.onblocked = () => resolve(); // deleted as soon as other tabs close their handles
  });
}
