// Identity pins and verification (spec e2ee.md §4.3): which master signing key (MSK) this browser
// trusts for each coworker, and whether it was checked in person. Plain ES module, no library.
//
// What other modules call (the room page, room.js, account.js):
//
//   checkMembers(store, members, {me}) -> {changed: [user_id…], unverified: [user_id…]}
//       Call it with every accepted commit's `members` (or device lists' {user, msk}); `msk` may be
//       bytes or b64u. It pins a key seen for the first time (TOFU), notes a different key as
//       "changed" (keeping the old one), and answers who changed and who is not verified yet.
//       Recommended flow for a room client, so that a changed key warns (and blocks sending in a
//       verified-only room) instead of making the room unreadable:
//         const accepted = await ur1.acceptCommit(obj, {room, previous, deviceLists, pins: {}});
//         const {changed} = await checkMembers(store, accepted.commit.members, {me: account});
//       (pins only from commits whose signature checked: a forged commit must not plant a pin.)
//       `me` ({user, mskPub}) is this browser's account: a commit listing another key for it is
//       reported as changed too (the server is substituting our own key).
//   isSendBlocked(store, room, members, {me}) -> boolean
//       `room` is the room's detail from the API ({room_id, verified_only}). True when the room is
//       verified-only and a member's key changed and nobody re-verified it here. A room once seen
//       verified-only stays so in this browser (the server carries the flag but cannot be trusted
//       to keep it: only this browser can refuse to send).
//   pinsForCommit(store) -> {user_id: {msk, verified}}   the pins in the shape ur1.acceptCommit
//       takes, for a caller that wants it to throw on any key other than the latest seen.
//   showKeyWarning(section, changed, {blocked, names})   fills the prominent warning component
//       (templates/messaging/includes/key_warning.html, styled by messaging/verify.css).
//   exportPins(store) / importPins(store, data)           JSON-safe pins for the backup (§4.9, kind "pins").
//
// The pins store ("pins" in ur1-store.js) holds "user:<user_id>" ->
//   {user, msk: Uint8Array, state: "tofu" | "verified" | "changed", previous: Uint8Array | null,
//    firstSeen, changedAt, verifiedAt}   (ms since the epoch; `previous` is the key trusted before a change)
// and "room:<room_id>" -> {verifiedOnly: true, since} for the sticky room policy.

import * as ur1 from "./ur1.js";

export const TOFU = "tofu";
export const VERIFIED = "verified";
export const CHANGED = "changed";

const userKey = (user) => `user:${user}`;
const roomKey = (room) => `room:${room}`;

function keyBytes(msk) {
  const bytes = msk instanceof Uint8Array ? msk : ur1.b64uDecode(msk, 32);
  return ur1.checkEd25519Public(bytes);
}

export function getPin(store, user) {
  return store.get("pins", userKey(ur1.checkUserId(user))).then((pin) => pin || null);
}

async function allPins(store) {
  const tx = store.db.transaction("pins", "readonly");
  const objects = tx.objectStore("pins");
  const [keys, values] = await Promise.all([objects.getAllKeys(), objects.getAll()].map((req) => new Promise(
    (resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(new ur1.UR1Error("key storage failed"));
    })));
  return keys.map((key, i) => [key, values[i]]).filter(([key]) => String(key).startsWith("user:")).map(([, v]) => v);
}

// Record that the server showed `msk` for `user`: a first key is pinned (TOFU); a different one
// turns the pin "changed" (the key trusted before is kept in `previous`, and a later flip back
// does not clear the warning: only verifying in person does).
export async function observe(store, user, msk) {
  ur1.checkUserId(user);
  const key = keyBytes(msk);
  const pin = await getPin(store, user);
  const now = Date.now();
  if (!pin) {
    const fresh = { user, msk: key, state: TOFU, previous: null, firstSeen: now, changedAt: null, verifiedAt: null };
    await store.put("pins", userKey(user), fresh);
    return fresh;
  }
  if (ur1.equalBytes(pin.msk, key)) return pin;
  const changed = {
    ...pin, msk: key, state: CHANGED, previous: pin.state === CHANGED ? pin.previous : pin.msk, changedAt: now,
  };
  await store.put("pins", userKey(user), changed);
  return changed;
}

// The key was checked in person (QR code or the 60 digits): the pin becomes "verified".
export async function markVerified(store, user, msk) {
  ur1.checkUserId(user);
  const key = keyBytes(msk);
  const pin = await getPin(store, user);
  const verified = {
    user, msk: key, state: VERIFIED, previous: null, firstSeen: pin ? pin.firstSeen : Date.now(), changedAt: null,
    verifiedAt: Date.now(),
  };
  await store.put("pins", userKey(user), verified);
  return verified;
}

export async function checkMembers(store, members, { me = null } = {}) {
  const changed = [];
  const unverified = [];
  for (const member of members) {
    const key = keyBytes(member.msk);
    if (me && member.user === me.user) {
      if (!ur1.equalBytes(key, keyBytes(me.mskPub))) changed.push(member.user);
      continue;
    }
    const pin = await observe(store, member.user, key);
    if (pin.state === CHANGED) changed.push(member.user);
    else if (pin.state === TOFU) unverified.push(member.user);
  }
  return { changed, unverified };
}

// Whether this browser treats the room as verified-only: the server's flag, or having seen it set once.
export async function roomIsVerifiedOnly(store, room) {
  ur1.checkId16(room.room_id);
  if (room.verified_only === true) {
    if (!(await store.get("pins", roomKey(room.room_id)))) {
      await store.put("pins", roomKey(room.room_id), { verifiedOnly: true, since: Date.now() });
    }
    return true;
  }
  return Boolean(await store.get("pins", roomKey(room.room_id)));
}

export async function isSendBlocked(store, room, members, { me = null } = {}) {
  const { changed } = await checkMembers(store, members, { me });
  return changed.length > 0 && (await roomIsVerifiedOnly(store, room));
}

export async function pinsForCommit(store) {
  const pins = Object.create(null);
  for (const pin of await allPins(store)) pins[pin.user] = { msk: pin.msk, verified: pin.state === VERIFIED };
  return pins;
}

export async function changedUsers(store) {
  return (await allPins(store)).filter((pin) => pin.state === CHANGED).map((pin) => pin.user);
}

export async function pinStates(store) {
  return Object.fromEntries((await allPins(store)).map((pin) => [pin.user, pin.state]));
}

// --- in-person checks -------------------------------------------------------------------------------

// "30387 52543 …" typed, pasted or read aloud: the 60 digits, or null when it is not 60 digits.
export function normalizeDigits(text) {
  const digits = String(text).replace(/[\s\-.]/g, "");
  return /^[0-9]{60}$/.test(digits) ? digits : null;
}

// Outcomes of a check; the page shows a translated sentence for each.
export const MATCH = "match";
export const MISMATCH = "mismatch";
export const OTHER_PERSON = "other-person";
export const NOT_A_CODE = "not-a-code";

// A scanned QR code against the key the server gives now for `user` (`current`, bytes). A match
// verifies the pin; anything else changes nothing.
export async function verifyScanned(store, text, user, current) {
  let scanned;
  try {
    scanned = ur1.parseQrPayload(text);
  } catch {
    return NOT_A_CODE;
  }
  if (scanned.user !== user) return OTHER_PERSON;
  if (!ur1.equalBytes(scanned.msk, keyBytes(current))) return MISMATCH;
  await markVerified(store, user, scanned.msk);
  return MATCH;
}

// The 60 digits the coworker reads from their own safety-number page, against the ones computed
// here from the key the server gives for them.
export async function verifyDigits(store, typed, user, current) {
  const digits = normalizeDigits(typed);
  if (!digits) return NOT_A_CODE;
  const expected = (await ur1.safetyNumber(user, keyBytes(current))).replace(/ /g, "");
  let diff = 0;
  for (let i = 0; i < 60; i++) diff |= digits.charCodeAt(i) ^ expected.charCodeAt(i);
  if (diff) return MISMATCH;
  await markVerified(store, user, current);
  return MATCH;
}

// --- backup -----------------------------------------------------------------------------------------

export async function exportPins(store) {
  return (await allPins(store)).map((pin) => ({
    user: pin.user, msk: ur1.b64uEncode(pin.msk), state: pin.state,
    previous: pin.previous ? ur1.b64uEncode(pin.previous) : null, verifiedAt: pin.verifiedAt,
  }));
}

// Restored pins never weaken what this browser knows: a pin here that differs from the backup's
// key is left alone, and only "verified" pins for the same key upgrade a local TOFU pin.
export async function importPins(store, data) {
  if (!Array.isArray(data)) throw new ur1.UR1Error("bad pins backup");
  for (const item of data) {
    const user = ur1.checkUserId(item.user);
    const key = keyBytes(item.msk);
    const pin = await getPin(store, user);
    if (!pin) {
      const previous = item.previous ? keyBytes(item.previous) : null;
      const state = [TOFU, VERIFIED, CHANGED].includes(item.state) ? item.state : TOFU;
      await store.put("pins", userKey(user), {
        user, msk: key, state, previous, firstSeen: Date.now(), changedAt: state === CHANGED ? Date.now() : null,
        verifiedAt: state === VERIFIED ? item.verifiedAt || Date.now() : null,
      });
    } else if (item.state === VERIFIED && pin.state === TOFU && ur1.equalBytes(pin.msk, key)) {
      await markVerified(store, user, key);
    }
  }
}

// --- the warning component -----------------------------------------------------------------------

// Fill and show (or hide, when nobody changed) the warning of key_warning.html. `names` maps user
// ids to the names this page knows; the others get the component's generic label.
export function showKeyWarning(section, changed, { blocked = false, names = {} } = {}) {
  const list = section.querySelector("[data-key-warning-list]");
  const item = section.querySelector("template[data-key-warning-item]");
  const verifyUrl = section.dataset.verifyUrl;
  list.replaceChildren();
  for (const user of changed) {
    const li = item.content.firstElementChild.cloneNode(true);
    const link = li.querySelector("a");
    link.href = verifyUrl.replace("__user__", encodeURIComponent(user));
    link.textContent = Object.hasOwn(names, user) ? names[user] : section.dataset.unnamed;
    list.append(li);
  }
  section.querySelector("[data-key-warning-blocked]").hidden = !blocked;
  section.hidden = changed.length === 0;
}
