// ure2e v1, suite UR1: the browser client of the encrypted rooms' protocol (spec e2ee.md, "UR1";
// section numbers below refer to it). Plain ES module, WebCrypto only, no library, no build step,
// no eval and no inline script, so it runs under `script-src 'self'`.
//
// It mirrors messaging/ur1 (Python) function for function; both pass the same known-answer vectors.
// Every failed check throws UR1Error and nothing else: callers fail closed on one type.
// Bytes are Uint8Array. Private keys are CryptoKey objects; the ones this module generates are
// non-extractable (§4.3, §4.10). Raw seeds are accepted only for known-answer tests.

const subtle = globalThis.crypto.subtle;
const te = new TextEncoder();

export class UR1Error extends Error {
  constructor(message) {
    super(message);
    this.name = "UR1Error";
  }
}

// Run a WebCrypto call; any failure becomes UR1Error (§7: OperationError on small-order peers).
async function guard(promise, message) {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof UR1Error) throw error;
    throw new UR1Error(message);
  }
}

// --- encodings (§4.1) --------------------------------------------------------------------------

export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function utf8(text) {
  if (typeof text !== "string") throw new UR1Error("invalid string");
  return te.encode(text);
}

export function u32(n) {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UR1Error("u32 out of range");
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function u64(n) {
  const value = typeof n === "bigint" ? n : (Number.isSafeInteger(n) && n >= 0 ? BigInt(n) : -1n);
  if (value < 0n || value >= 2n ** 64n) throw new UR1Error("u64 out of range");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

export function lp(x) {
  const data = typeof x === "string" ? utf8(x) : x;
  if (!(data instanceof Uint8Array)) throw new UR1Error("invalid bytes");
  return concat(u32(data.length), data);
}

export function lst(items) {
  return concat(u32(items.length), ...items);
}

export function equalBytes(a, b) {
  // Constant time in the contents; lengths are public.
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(text)) throw new UR1Error("invalid hex");
  return Uint8Array.from(text.match(/../g) || [], (pair) => parseInt(pair, 16));
}

const B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

export function b64uEncode(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += B64U[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

// Strict RFC 4648 §5 base64url without padding: refuses "=", "+", "/", whitespace, length ≡ 1 (mod 4)
// and non-canonical trailing bits (decode, re-encode, compare); and any other length when given.
export function b64uDecode(text, length) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new UR1Error("invalid base64url");
  }
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const char of text) {
    value = (value << 6) | B64U.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 0xff;
      value &= (1 << bits) - 1;
    }
  }
  if (b64uEncode(out) !== text) throw new UR1Error("non-canonical base64url");
  if (length !== undefined && out.length !== length) throw new UR1Error("wrong decoded length");
  return out;
}

export function checkUserId(value) {
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new UR1Error("invalid user id");
  return value;
}

// device_id and room_id: 16 random bytes as b64u, 22 characters.
export function checkId16(value) {
  if (typeof value !== "string") throw new UR1Error("invalid identifier");
  b64uDecode(value, 16);
  return value;
}

export function checkInt(value, minimum = 0) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < minimum) {
    throw new UR1Error("invalid integer");
  }
  return value;
}

function checkStr(value) {
  if (typeof value !== "string") throw new UR1Error("invalid string");
  return value;
}

function checkKeys(obj, keys) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new UR1Error("unexpected object shape");
  const have = Object.keys(obj);
  if (have.length !== keys.length || !keys.every((key) => Object.hasOwn(obj, key))) {
    throw new UR1Error("unexpected object shape");
  }
  return obj;
}

function checkList(value) {
  if (!Array.isArray(value)) throw new UR1Error("invalid list");
  return value;
}

// Sorting is by the byte order of the UTF-8 strings (§4.4); JS compares UTF-16 code units.
export function compareUtf8(a, b) {
  const x = utf8(a);
  const y = utf8(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export async function sha256(data) {
  return new Uint8Array(await subtle.digest("SHA-256", data));
}

export function randomBytes(n) {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes a call.
  for (let at = 0; at < n; at += 65536) globalThis.crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65536)));
  return out;
}

// --- primitives (§4.2) -------------------------------------------------------------------------

const ZERO_SALT = new Uint8Array(32); // §4.1, §7: WebCrypto refuses an empty HMAC key

// HKDF-SHA256 with salt = 32 zero bytes. `ikm` is raw bytes or a non-extractable HKDF CryptoKey.
export async function hkdf(ikm, info, length = 32) {
  const key = ikm instanceof Uint8Array ? await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]) : ikm;
  return new Uint8Array(await guard(
    subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: ZERO_SALT, info }, key, length * 8), "HKDF failed"));
}

export async function hmacSha256(key, data) {
  const imported = await subtle.importKey("raw", key.length ? key : ZERO_SALT, { name: "HMAC", hash: "SHA-256" },
    false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", imported, data));
}

async function aesKey(key, usage) {
  if (!(key instanceof Uint8Array)) return key;
  if (key.length !== 16 && key.length !== 32) throw new UR1Error("bad AEAD key");
  return subtle.importKey("raw", key, "AES-GCM", false, [usage]);
}

export async function aeadSeal(key, nonce, plaintext, aad) {
  if (nonce.length !== 12) throw new UR1Error("bad AEAD nonce");
  const cryptoKey = await aesKey(key, "encrypt");
  return new Uint8Array(await guard(
    subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, cryptoKey, plaintext),
    "encryption failed"));
}

export async function aeadOpen(key, nonce, ciphertext, aad) {
  if (nonce.length !== 12 || ciphertext.length < 16) throw new UR1Error("bad AEAD input");
  const cryptoKey = await aesKey(key, "decrypt");
  return new Uint8Array(await guard(
    subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, cryptoKey, ciphertext),
    "decryption failed"));
}

// Appendix A: the 14 Ed25519 small-order encodings, refused as public keys before any verify (§6 #10).
export const ED25519_SMALL_ORDER = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000080",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

const PKCS8_ED25519 = fromHex("302e020100300506032b657004220420");
const PKCS8_X25519 = fromHex("302e020100300506032b656e04220420");

// Also refuses a non-canonical y (≥ p): engines disagree on those, and divergent validity between
// clients is a group fork (§6 #10); no honest key is non-canonical. The same check as in Python.
function canonicalY(publicKey) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? publicKey[i] & 0x7f : publicKey[i]);
  return y < 2n ** 255n - 19n;
}

export function checkEd25519Public(publicKey) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || ED25519_SMALL_ORDER.includes(toHex(publicKey))
    || !canonicalY(publicKey)) {
    throw new UR1Error("refused Ed25519 public key");
  }
  return publicKey;
}

// A key pair as this module uses it: { privateKey: CryptoKey, publicKey: Uint8Array (raw 32 bytes) }.
async function pairFromSeed(seed, algorithm, prefix, usages) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new UR1Error("bad private key");
  // Imported extractable once to read the public half (§7: jwk.x); the key kept is non-extractable.
  const exportable = await guard(subtle.importKey("pkcs8", concat(prefix, seed), algorithm, true, usages), "bad key");
  const jwk = await subtle.exportKey("jwk", exportable);
  const privateKey = await guard(subtle.importKey("pkcs8", concat(prefix, seed), algorithm, false, usages), "bad key");
  return { privateKey, publicKey: b64uDecode(jwk.x, 32) };
}

// Known-answer tests only: an Ed25519 key pair from a 32-byte seed (PKCS#8 import, §5.1 K2).
export function ed25519FromSeed(seed) {
  return pairFromSeed(seed, "Ed25519", PKCS8_ED25519, ["sign"]);
}

// Known-answer tests only: an X25519 key pair from a 32-byte secret.
export function x25519FromSecret(secret) {
  return pairFromSeed(secret, "X25519", PKCS8_X25519, ["deriveBits"]);
}

async function generatePair(algorithm, usages) {
  const pair = await guard(subtle.generateKey(algorithm, false, usages), `${algorithm} unsupported`);
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)) };
}

// A new device: DSK (Ed25519) and DEK (X25519) with non-extractable private keys (§4.3, §4.10).
export async function generateDeviceKeys() {
  return { dsk: await generatePair("Ed25519", ["sign", "verify"]), dek: await generatePair("X25519", ["deriveBits"]) };
}

// Feature detection at startup (§2.1): false means "update your browser", never a downgrade.
export async function supported() {
  try {
    await generateDeviceKeys();
    return true;
  } catch {
    return false;
  }
}

export async function ed25519Sign(signer, message) {
  return new Uint8Array(await guard(subtle.sign("Ed25519", signer.privateKey, message), "signing failed"));
}

export async function ed25519Verify(publicKey, message, signature) {
  checkEd25519Public(publicKey);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new UR1Error("bad signature length");
  const key = await guard(subtle.importKey("raw", publicKey, "Ed25519", false, ["verify"]), "bad signature");
  const ok = await guard(subtle.verify("Ed25519", key, signature, message), "bad signature");
  if (!ok) throw new UR1Error("bad signature");
}

// X25519; an all-zero result (small-order peer) is an error (§6 #10, §7).
export async function x25519(privateKey, publicKey) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw new UR1Error("bad X25519 key");
  const peer = await guard(subtle.importKey("raw", publicKey, "X25519", false, []), "bad X25519 key");
  const shared = new Uint8Array(await guard(subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256),
    "X25519 small-order point"));
  if (shared.every((b) => b === 0)) throw new UR1Error("X25519 small-order point");
  return shared;
}

// --- HPKE (RFC 9180) mode_base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 (§4.6, §7) --------------

export const AEAD_AES_128_GCM = 0x0001;
export const AEAD_AES_256_GCM = 0x0002;
const KEM_SUITE = concat(utf8("KEM"), Uint8Array.of(0x00, 0x20));
const HPKE_V1 = utf8("HPKE-v1");

function i2osp2(n) {
  return Uint8Array.of(n >> 8, n & 0xff);
}

async function hkdfExpand(prk, info, length) {
  let out = new Uint8Array(0);
  let block = new Uint8Array(0);
  for (let counter = 1; out.length < length; counter++) {
    block = await hmacSha256(prk, concat(block, info, Uint8Array.of(counter)));
    out = concat(out, block);
  }
  return out.slice(0, length);
}

function labeledExtract(suiteId, salt, label, ikm) {
  return hmacSha256(salt, concat(HPKE_V1, suiteId, utf8(label), ikm));
}

function labeledExpand(suiteId, prk, label, info, length) {
  return hkdfExpand(prk, concat(i2osp2(length), HPKE_V1, suiteId, utf8(label), info), length);
}

async function keySchedule(aeadId, dh, enc, pkR, info) {
  const eaePrk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dh);
  const shared = await labeledExpand(KEM_SUITE, eaePrk, "shared_secret", concat(enc, pkR), 32);
  const suiteId = concat(utf8("HPKE"), Uint8Array.of(0x00, 0x20, 0x00, 0x01), i2osp2(aeadId));
  const empty = new Uint8Array(0);
  const pskIdHash = await labeledExtract(suiteId, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(suiteId, empty, "info_hash", info);
  const context = concat(Uint8Array.of(0), pskIdHash, infoHash);
  const secret = await labeledExtract(suiteId, shared, "secret", empty);
  const key = await labeledExpand(suiteId, secret, "key", context, aeadId === AEAD_AES_128_GCM ? 16 : 32);
  return { key, nonce: await labeledExpand(suiteId, secret, "base_nonce", context, 12) };
}

function checkAead(aeadId) {
  if (aeadId !== AEAD_AES_128_GCM && aeadId !== AEAD_AES_256_GCM) throw new UR1Error("unsupported HPKE AEAD");
}

// Single-shot SealBase (seq 0), output enc ‖ ct. `ephemeralSecret` fixes skE for known-answer tests;
// otherwise a fresh non-extractable ephemeral key is generated for every call.
export async function hpkeSealBase(pkR, info, aad, plaintext, { ephemeralSecret, aeadId = AEAD_AES_256_GCM } = {}) {
  checkAead(aeadId);
  const ephemeral = ephemeralSecret ? await x25519FromSecret(ephemeralSecret) : await generatePair("X25519",
    ["deriveBits"]);
  const dh = await x25519(ephemeral.privateKey, pkR);
  const { key, nonce } = await keySchedule(aeadId, dh, ephemeral.publicKey, pkR, info);
  return concat(ephemeral.publicKey, await aeadSeal(key, nonce, plaintext, aad));
}

// Single-shot OpenBase of enc ‖ ct; `recipient` is { privateKey, publicKey } (the DEK).
export async function hpkeOpenBase(recipient, info, aad, sealed, { aeadId = AEAD_AES_256_GCM } = {}) {
  checkAead(aeadId);
  if (!(sealed instanceof Uint8Array) || sealed.length < 48) throw new UR1Error("bad HPKE input");
  const enc = sealed.slice(0, 32);
  const dh = await x25519(recipient.privateKey, enc);
  const { key, nonce } = await keySchedule(aeadId, dh, enc, recipient.publicKey, info);
  return aeadOpen(key, nonce, sealed.slice(32), aad);
}

// --- identity (§4.3) ----------------------------------------------------------------------------

function sortDevicesById(devices) {
  return [...devices].sort((a, b) => compareUtf8(a.id, b.id));
}

export function devlistTbs(user, msk, version, devices) {
  return concat(lp("ure2e/v1/devlist"), lp(user), lp(msk), u64(version),
    lst(sortDevicesById(devices).map((d) => concat(lp(d.id), lp(d.dsk), lp(d.dek), u64(d.added)))));
}

function checkDevices(devices) {
  if (new Set(devices.map((d) => d.id)).size !== devices.length) throw new UR1Error("duplicate device id");
  for (const d of devices) {
    checkId16(d.id);
    checkEd25519Public(d.dsk);
    if (!(d.dek instanceof Uint8Array) || d.dek.length !== 32) throw new UR1Error("bad device encryption key");
    checkInt(d.added);
  }
}

// A device list in its JSON form, signed by the MSK (`msk` is a key pair).
export async function signDeviceList(msk, user, version, devices) {
  checkUserId(user);
  checkInt(version);
  checkDevices(devices);
  const ordered = sortDevicesById(devices);
  const sig = await ed25519Sign(msk, devlistTbs(user, msk.publicKey, version, ordered));
  return {
    v: 1, user, msk: b64uEncode(msk.publicKey), version,
    devices: ordered.map((d) => ({ id: d.id, dsk: b64uEncode(d.dsk), dek: b64uEncode(d.dek), added: d.added })),
    sig: b64uEncode(sig),
  };
}

// Strict parse and signature check of a device list.
export async function parseDeviceList(obj) {
  checkKeys(obj, ["v", "user", "msk", "version", "devices", "sig"]);
  if (obj.v !== 1) throw new UR1Error("unknown device list version");
  const devices = checkList(obj.devices).map((d) => {
    checkKeys(d, ["id", "dsk", "dek", "added"]);
    return { id: checkId16(d.id), dsk: b64uDecode(d.dsk, 32), dek: b64uDecode(d.dek, 32), added: checkInt(d.added) };
  });
  checkDevices(devices);
  const parsed = {
    user: checkUserId(obj.user), msk: checkEd25519Public(b64uDecode(obj.msk, 32)), version: checkInt(obj.version),
    devices, sig: b64uDecode(obj.sig, 64),
  };
  await ed25519Verify(parsed.msk, devlistTbs(parsed.user, parsed.msk, parsed.version, devices), parsed.sig);
  return parsed;
}

// Signed, by the pinned MSK, and not older than `current`, the highest version this client accepted
// for the user (§4.3: rollback refused); the same version with other contents is a fork, refused too.
export async function acceptDeviceList(obj, { pinnedMsk = null, current = null } = {}) {
  const parsed = await parseDeviceList(obj);
  if (pinnedMsk && !equalBytes(parsed.msk, pinnedMsk)) throw new UR1Error("master signing key changed");
  if (current) {
    if (parsed.user !== current.user || parsed.version < current.version) throw new UR1Error("device list rollback");
    if (parsed.version === current.version && !equalBytes(parsed.sig, current.sig)) {
      throw new UR1Error("two device lists with one version");
    }
  }
  return parsed;
}

export function fingerprint(user, msk) {
  return sha256(concat(lp("ure2e/v1/fpr"), lp(checkUserId(user)), lp(msk)));
}

// The 60 digits in 12 groups of 5: each 5-byte chunk of FP, big-endian, mod 10¹⁰.
export async function safetyNumber(user, msk) {
  const fp = await fingerprint(user, msk);
  let digits = "";
  for (let i = 0; i < 6; i++) {
    let n = 0n;
    for (const b of fp.slice(5 * i, 5 * i + 5)) n = (n << 8n) | BigInt(b);
    digits += (n % 10n ** 10n).toString().padStart(10, "0");
  }
  return digits.match(/.{5}/g).join(" ");
}

export function qrPayload(user, msk) {
  return `ure2e:v1:${checkUserId(user)}:${b64uEncode(checkEd25519Public(msk))}`;
}

export function parseQrPayload(text) {
  const parts = typeof text === "string" ? text.split(":") : [];
  if (parts.length !== 4 || parts[0] !== "ure2e" || parts[1] !== "v1") throw new UR1Error("not a UR1 verification code");
  return { user: checkUserId(parts[2]), msk: checkEd25519Public(b64uDecode(parts[3], 32)) };
}

// The pin for `user` if `msk` matches it, null if the user is new (TOFU); a changed MSK throws.
export function checkPin(pins, user, msk) {
  // hasOwn: a user id may be "__proto__" or "constructor" ([A-Za-z0-9_-]{1,64}).
  const pin = Object.hasOwn(pins, user) ? pins[user] : null;
  if (pin && !equalBytes(pin.msk, msk)) throw new UR1Error("master signing key changed");
  return pin || null;
}

// --- epoch secrets (§4.5, §4.10) ------------------------------------------------------------------

// Import a raw epoch secret as a non-extractable HKDF key; wipe the raw bytes after the backup upload.
export function importEpochSecret(es) {
  if (!(es instanceof Uint8Array) || es.length !== 32) throw new UR1Error("epoch secret must be 32 bytes");
  return subtle.importKey("raw", es, "HKDF", false, ["deriveBits", "deriveKey"]);
}

function esKey(es) {
  return es instanceof Uint8Array ? importEpochSecret(es) : es;
}

export async function keyCommitment(es, room, epoch) {
  return hkdf(await esKey(es), concat(lp("ure2e/v1/kc"), lp(room), u64(epoch)));
}

function senderInfo(room, epoch, user, device) {
  return concat(lp("ure2e/v1/msg-key"), lp(room), u64(epoch), lp(user), lp(device));
}

// K_s as raw bytes: known-answer tests only.
export async function senderKeyBytes(es, room, epoch, user, device) {
  return hkdf(await esKey(es), senderInfo(room, epoch, user, device));
}

// K_s as a non-extractable AES-256-GCM key.
export async function senderKey(es, room, epoch, user, device) {
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: ZERO_SALT, info: senderInfo(room, epoch, user, device) },
    await esKey(es), { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

// K_m (room name, topic, avatar) as a non-extractable AES-256-GCM key.
export async function metaKey(es, room, epoch) {
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: ZERO_SALT,
    info: concat(lp("ure2e/v1/meta-key"), lp(room), u64(epoch)) }, await esKey(es), { name: "AES-GCM", length: 256 },
  false, ["encrypt", "decrypt"]);
}

// --- commits (§4.4) ---------------------------------------------------------------------------

export const SUITE = "UR1";
const ROLES = ["admin", "member"];

function sortMembers(members) {
  return [...members].sort((a, b) => compareUtf8(a.user, b.user));
}

function sortCommitDevices(devices) {
  return [...devices].sort((a, b) => compareUtf8(a.user, b.user) || compareUtf8(a.device, b.device));
}

export function commitTbs(c) {
  return concat(lp("ure2e/v1/commit"), lp(SUITE), lp(c.room), u64(c.epoch), lp(c.prev.length ? c.prev : new Uint8Array(32)),
    lp(c.authorUser), lp(c.authorDevice),
    lst(sortMembers(c.members).map((m) => concat(lp(m.user), lp(m.msk), lp(m.role)))),
    lst(sortCommitDevices(c.devices).map((d) => concat(lp(d.user), lp(d.device), lp(d.dek), lp(d.dsk)))),
    lp(c.kc), u64(c.ts));
}

export function commitId(commit) {
  return sha256(commitTbs(commit));
}

function findDevice(commit, user, device) {
  return commit.devices.find((d) => d.user === user && d.device === device) || null;
}

function findMember(commit, user) {
  return commit.members.find((m) => m.user === user) || null;
}

function checkCommitFields(c) {
  checkId16(c.room);
  checkInt(c.epoch);
  checkInt(c.ts);
  checkUserId(c.authorUser);
  checkId16(c.authorDevice);
  if ((c.epoch === 0) !== (c.prev.length === 0) || ![0, 32].includes(c.prev.length) || c.kc.length !== 32) {
    throw new UR1Error("bad commit chain fields");
  }
  const users = c.members.map((m) => m.user);
  if (new Set(users).size !== users.length) throw new UR1Error("duplicate member");
  for (const m of c.members) {
    checkUserId(m.user);
    checkEd25519Public(m.msk);
    if (!ROLES.includes(m.role)) throw new UR1Error("unknown role");
  }
  const pairs = new Set(c.devices.map((d) => `${d.user}\u0000${d.device}`));
  if (pairs.size !== c.devices.length || new Set(c.devices.map((d) => d.device)).size !== c.devices.length) {
    throw new UR1Error("duplicate device");
  }
  for (const d of c.devices) {
    checkId16(d.device);
    checkEd25519Public(d.dsk);
    if (d.dek.length !== 32) throw new UR1Error("bad device encryption key");
  }
  // Rule 4: at least one admin remains; every device entry belongs to a listed member.
  if (!c.members.some((m) => m.role === "admin")) throw new UR1Error("no admin left");
  if (!c.devices.every((d) => users.includes(d.user))) throw new UR1Error("device of a non-member");
}

export function commitToJson(c) {
  return {
    v: 1, t: "commit", suite: SUITE, room: c.room, epoch: c.epoch, prev: b64uEncode(c.prev),
    author: { user: c.authorUser, device: c.authorDevice },
    members: sortMembers(c.members).map((m) => ({ user: m.user, msk: b64uEncode(m.msk), role: m.role })),
    devices: sortCommitDevices(c.devices).map((d) => ({ user: d.user, device: d.device, dek: b64uEncode(d.dek),
      dsk: b64uEncode(d.dsk) })),
    kc: b64uEncode(c.kc), ts: c.ts, sig: b64uEncode(c.sig),
  };
}

// Sign a commit with the author's DSK key pair; returns its JSON form.
export async function signCommit(dsk, commit) {
  checkCommitFields(commit);
  return commitToJson({ ...commit, sig: await ed25519Sign(dsk, commitTbs(commit)) });
}

// Strict parse (shape, types, encodings, rule 4); the signature is checked by acceptCommit.
export function parseCommit(obj) {
  checkKeys(obj, ["v", "t", "suite", "room", "epoch", "prev", "author", "members", "devices", "kc", "ts", "sig"]);
  if (obj.v !== 1 || obj.t !== "commit" || obj.suite !== SUITE) throw new UR1Error("unknown commit version, type or suite");
  const author = checkKeys(obj.author, ["user", "device"]);
  const prev = checkStr(obj.prev);
  const commit = {
    room: checkId16(obj.room), epoch: checkInt(obj.epoch), prev: prev === "" ? new Uint8Array(0) : b64uDecode(prev, 32),
    authorUser: checkUserId(author.user), authorDevice: checkId16(author.device),
    members: checkList(obj.members).map((m) => {
      checkKeys(m, ["user", "msk", "role"]);
      return { user: checkUserId(m.user), msk: b64uDecode(m.msk, 32), role: checkStr(m.role) };
    }),
    devices: checkList(obj.devices).map((d) => {
      checkKeys(d, ["user", "device", "dek", "dsk"]);
      return { user: checkUserId(d.user), device: checkId16(d.device), dek: b64uDecode(d.dek, 32),
        dsk: b64uDecode(d.dsk, 32) };
    }),
    kc: b64uDecode(obj.kc, 32), ts: checkInt(obj.ts), sig: b64uDecode(obj.sig, 64),
  };
  checkCommitFields(commit);
  return commit;
}

function sameMembers(a, b) {
  const key = (m) => `${m.user}\u0000${toHex(m.msk)}\u0000${m.role}`;
  const x = new Set(a.map(key));
  return x.size === b.length && b.every((m) => x.has(key(m)));
}

function sameDevices(a, b) {
  const key = (d) => `${d.user}\u0000${d.device}\u0000${toHex(d.dek)}\u0000${toHex(d.dsk)}`;
  const x = new Set(a.map(key));
  return x.size === b.length && b.every((d) => x.has(key(d)));
}

function listed(deviceList, device) {
  const entry = deviceList.devices.find((d) => d.id === device.device);
  return Boolean(entry && equalBytes(entry.dsk, device.dsk) && equalBytes(entry.dek, device.dek));
}

// Client acceptance rules 1-5 (§4.4) for commit n given accepted commit n−1 (null: genesis).
// `deviceLists[user]` holds the verified device lists this client kept for that user; a device
// absent from the newest but present in an older one gives `needsRotation`. Rule 6 is openWrap.
export async function acceptCommit(obj, { room, previous, pins, deviceLists }) {
  const commit = parseCommit(obj);
  if (commit.room !== room) throw new UR1Error("commit for another room");
  const tbs = commitTbs(commit);
  let signer;
  if (!previous) {
    const author = findMember(commit, commit.authorUser);
    signer = findDevice(commit, commit.authorUser, commit.authorDevice);
    if (commit.epoch !== 0 || commit.prev.length || !author || author.role !== "admin" || !signer) {
      throw new UR1Error("bad genesis commit");
    }
  } else {
    const prior = previous.commit;
    if (commit.epoch !== prior.epoch + 1) throw new UR1Error("skipped or repeated epoch");
    if (!equalBytes(commit.prev, previous.commitId)) throw new UR1Error("wrong prev: epoch fork");
    signer = findDevice(prior, commit.authorUser, commit.authorDevice);
    if (!signer) throw new UR1Error("author device not in the previous epoch");
    const author = findMember(prior, commit.authorUser);
    const selfDevice = sameMembers(prior.members, commit.members) && sameDevices(
      prior.devices.filter((d) => d.user !== commit.authorUser), commit.devices.filter((d) => d.user !== commit.authorUser));
    if (!author || (author.role !== "admin" && !selfDevice)) throw new UR1Error("author may not make this commit");
  }
  await ed25519Verify(signer.dsk, tbs, commit.sig);
  const newPins = Object.create(null);
  for (const m of commit.members) {
    if (!checkPin(pins, m.user, m.msk)) newPins[m.user] = { msk: m.msk, verified: false };
  }
  let needsRotation = false;
  for (const d of commit.devices) {
    const lists = (Object.hasOwn(deviceLists, d.user) ? deviceLists[d.user] : []).filter((dl) => dl.user === d.user);
    const member = findMember(commit, d.user);
    if (!lists.length || lists.some((dl) => !equalBytes(dl.msk, member.msk))) {
      throw new UR1Error("no device list under the member's key");
    }
    const newest = lists.reduce((a, b) => (b.version > a.version ? b : a));
    if (listed(newest, d)) continue;
    if (!lists.some((dl) => listed(dl, d))) throw new UR1Error("device not in the member's device list");
    needsRotation = true;
  }
  return { commit, commitId: await sha256(tbs), newPins, needsRotation };
}

// --- wraps (§4.6) ----------------------------------------------------------------------------------

export const WRAP_LABEL = "ure2e/v1/wrap";
export const HISTORY_LABEL = "ure2e/v1/history";

export function wrapInfo(room, epoch, cid, toUser, toDevice, label = WRAP_LABEL) {
  if (label !== WRAP_LABEL && label !== HISTORY_LABEL) throw new UR1Error("unknown wrap label");
  return concat(lp(label), lp(room), u64(epoch), lp(cid), lp(toUser), lp(toDevice));
}

// HPKE-wrap the raw `es` to one device of the commit (`ephemeralSecret` for known-answer tests only).
export async function makeWrap(es, accepted, toUser, toDevice, { ephemeralSecret, label = WRAP_LABEL } = {}) {
  const c = accepted.commit;
  const target = findDevice(c, toUser, toDevice);
  if (!target) throw new UR1Error("recipient not in the commit");
  if (!(es instanceof Uint8Array) || es.length !== 32) throw new UR1Error("epoch secret must be 32 bytes");
  if (!equalBytes(await keyCommitment(es, c.room, c.epoch), c.kc)) {
    throw new UR1Error("epoch secret does not match the commit");
  }
  const info = wrapInfo(c.room, c.epoch, accepted.commitId, toUser, toDevice, label);
  const w = await hpkeSealBase(target.dek, info, new Uint8Array(0), es, { ephemeralSecret });
  return { v: 1, t: label === WRAP_LABEL ? "wrap" : "history", room: c.room, epoch: c.epoch,
    commit: b64uEncode(accepted.commitId), to_user: toUser, to_device: toDevice, w: b64uEncode(w) };
}

// Receive a wrap or a history grant: context equals the accepted commit, open, kc matches.
// Returns the raw es (for the backup upload); import it with importEpochSecret and drop the bytes.
export async function openWrap(obj, accepted, { myUser, myDevice, dek }) {
  checkKeys(obj, ["v", "t", "room", "epoch", "commit", "to_user", "to_device", "w"]);
  if (obj.v !== 1 || (obj.t !== "wrap" && obj.t !== "history")) throw new UR1Error("unknown wrap version or type");
  const label = obj.t === "wrap" ? WRAP_LABEL : HISTORY_LABEL;
  const c = accepted.commit;
  if (obj.room !== c.room || checkInt(obj.epoch) !== c.epoch || !equalBytes(b64uDecode(checkStr(obj.commit), 32),
    accepted.commitId) || obj.to_user !== myUser || obj.to_device !== myDevice || !findDevice(c, myUser, myDevice)) {
    throw new UR1Error("wrap context does not match the commit");
  }
  const w = b64uDecode(checkStr(obj.w), 80);
  const es = await guard(hpkeOpenBase(dek, wrapInfo(c.room, c.epoch, accepted.commitId, myUser, myDevice, label),
    new Uint8Array(0), w), "HPKE open failed");
  if (es.length !== 32 || !equalBytes(await keyCommitment(es, c.room, c.epoch), c.kc)) {
    throw new UR1Error("wrapped secret does not match the commit (kc)");
  }
  return es;
}

// --- messages (§4.7) -------------------------------------------------------------------------------

export const MAX_ENVELOPE_BYTES = 90 * 1024;
export const OLD_EPOCH_SECONDS = 300;
const PADDED_SIZES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

export function messageAad(room, epoch, cid, user, device, ctr) {
  return concat(lp("ure2e/v1/msg"), lp(SUITE), lp(room), u64(epoch), lp(cid), lp(user), lp(device), u64(ctr));
}

export function paddedLength(n) {
  let size = 256;
  while (size < n && size < 65536) size *= 2;
  return n > size ? Math.ceil(n / 65536) * 65536 : size;
}

export function pad(body) {
  const out = new Uint8Array(paddedLength(body.length + 1));
  out.set(body);
  out[body.length] = 0x80;
  return out;
}

// The last non-zero byte must be 0x80, and the length must be the bucket of what it holds.
export function unpad(padded) {
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  if (end === 0 || padded[end - 1] !== 0x80 || paddedLength(end) !== padded.length) throw new UR1Error("bad padding");
  return padded.slice(0, end - 1);
}

export function encodeBody(body) {
  return utf8(JSON.stringify(body));
}

async function signatureTbs(aad, kc, padded) {
  return concat(lp("ure2e/v1/msg-sig"), lp(aad), lp(kc), lp(await sha256(padded)));
}

// Sign then encrypt one body (bytes) in the commit's epoch. `dsk` is the device's key pair;
// `nonce` is fixed only in known-answer tests. The caller owns the counter (navigator.locks).
export async function sealMessage(body, { es, accepted, user, device, ctr, dsk, nonce }) {
  const c = accepted.commit;
  if (!findDevice(c, user, device)) throw new UR1Error("sender not in the commit");
  if (body.length + 1 > 65536) throw new UR1Error("message too long for one envelope");
  checkInt(ctr);
  const n = nonce || randomBytes(12);
  const aad = messageAad(c.room, c.epoch, accepted.commitId, user, device, ctr);
  const padded = pad(body);
  const sig = await ed25519Sign(dsk, await signatureTbs(aad, c.kc, padded));
  const ct = await aeadSeal(await senderKey(es, c.room, c.epoch, user, device), n, concat(sig, padded), aad);
  return { v: 1, t: "msg", suite: SUITE, room: c.room, epoch: c.epoch, commit: b64uEncode(accepted.commitId),
    sender: { user, device }, ctr, n: b64uEncode(n), ct: b64uEncode(ct) };
}

// Step 1: strict parse; known v, t, suite; every field typed and canonically encoded.
export function parseEnvelope(obj) {
  checkKeys(obj, ["v", "t", "suite", "room", "epoch", "commit", "sender", "ctr", "n", "ct"]);
  if (obj.v !== 1 || obj.t !== "msg" || obj.suite !== SUITE) throw new UR1Error("unknown message version, type or suite");
  const sender = checkKeys(obj.sender, ["user", "device"]);
  const ct = b64uDecode(checkStr(obj.ct));
  // 64-byte signature, a padding bucket and the tag; buckets past 65536 do not fit in 90 KiB as JSON.
  if (!PADDED_SIZES.includes(ct.length - 80)) throw new UR1Error("bad ciphertext length");
  const env = { room: checkId16(obj.room), epoch: checkInt(obj.epoch), commit: b64uDecode(checkStr(obj.commit), 32),
    user: checkUserId(sender.user), device: checkId16(sender.device), ctr: checkInt(obj.ctr),
    nonce: b64uDecode(checkStr(obj.n), 12), ct };
  env.aad = messageAad(env.room, env.epoch, env.commit, env.user, env.device, env.ctr);
  return env;
}

// Seen (room, epoch, sender.device, ctr), step 4. Persist it (e.g. in IndexedDB) per epoch.
export class ReplaySet {
  constructor(seen = []) {
    this.seen = new Set(seen);
  }

  static key(env) {
    return JSON.stringify([env.room, env.epoch, env.device, env.ctr]);
  }

  check(env) {
    if (this.seen.has(ReplaySet.key(env))) throw new UR1Error("replayed message");
  }

  add(env) {
    this.seen.add(ReplaySet.key(env));
  }

  // Counters below the highest seen that never arrived: "messages missing" (§5.2 #15).
  gaps(room, epoch, device) {
    const ctrs = new Set();
    for (const key of this.seen) {
      const [r, e, d, ctr] = JSON.parse(key);
      if (r === room && e === epoch && d === device) ctrs.add(ctr);
    }
    const top = Math.max(-1, ...ctrs);
    return Array.from({ length: top + 1 }, (_, i) => i).filter((i) => !ctrs.has(i));
  }
}

// The receiver algorithm, steps 1-5. `accepted` is this client's commit for the envelope's epoch
// (null if none: "unknown epoch or fork"). An envelope joins the replay set only once it opened.
export async function openMessage(obj, { room, accepted, es, replay }) {
  const env = parseEnvelope(obj);
  if (env.room !== room) throw new UR1Error("message for another room");
  if (!accepted || accepted.commit.room !== env.room || accepted.commit.epoch !== env.epoch
    || !equalBytes(accepted.commitId, env.commit)) {
    throw new UR1Error("unknown epoch or epoch fork");
  }
  const sender = findDevice(accepted.commit, env.user, env.device);
  if (!sender) throw new UR1Error("sender not in the epoch");
  replay.check(env);
  const plain = await aeadOpen(await senderKey(es, env.room, env.epoch, env.user, env.device), env.nonce, env.ct, env.aad);
  const sig = plain.slice(0, 64);
  const padded = plain.slice(64);
  await ed25519Verify(sender.dsk, await signatureTbs(env.aad, accepted.commit.kc, padded), sig);
  const body = unpad(padded);
  replay.add(env);
  return { body, user: env.user, device: env.device, epoch: env.epoch, ctr: env.ctr, messageId: await messageId(obj) };
}

export async function messageId(obj) {
  const env = parseEnvelope(obj);
  return b64uEncode(await sha256(concat(lp("ure2e/v1/msgid"), lp(env.aad), lp(env.nonce), lp(env.ct)))).slice(0, 22);
}

// Step 6 for an epoch-n message: throws if commit n+1 was accepted more than 5 minutes before and
// the sender is not a member in n+1; returns true when the message predates a rotation (show a hint).
export function checkOldEpoch({ senderUser, nextCommit, nextAcceptedAt, receivedAt }) {
  if (!nextCommit || nextAcceptedAt === null || nextAcceptedAt === undefined) return false;
  if (receivedAt - nextAcceptedAt > OLD_EPOCH_SECONDS && !findMember(nextCommit.commit, senderUser)) {
    throw new UR1Error("message from a removed sender after rotation");
  }
  return true;
}

// --- room name and topic under K_m (messaging/ur1/meta.py, the same bytes) ---------------------

const MAX_NAME = 200;
const MAX_TOPIC = 2000;

export function metaAad(room, epoch, cid, user, device) {
  return concat(lp("ure2e/v1/meta"), lp(SUITE), lp(room), u64(epoch), lp(cid), lp(user), lp(device));
}

async function metaSignatureTbs(aad, kc, padded) {
  return concat(lp("ure2e/v1/meta-sig"), lp(aad), lp(kc), lp(await sha256(padded)));
}

function checkMetaBody(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new UR1Error("bad room metadata");
  const keys = Object.keys(body);
  if (!keys.includes("name") || !keys.every((k) => k === "name" || k === "topic")) throw new UR1Error("bad room metadata");
  const topic = keys.includes("topic") ? body.topic : "";
  // Lengths in code points, as Python counts them (a JS string's length counts UTF-16 units).
  if (typeof body.name !== "string" || typeof topic !== "string" || body.name.length === 0
    || [...body.name].length > MAX_NAME || [...topic].length > MAX_TOPIC) {
    throw new UR1Error("bad room metadata");
  }
  return keys.includes("topic") ? { name: body.name, topic } : { name: body.name };
}

// Seal the room's name (and topic) in the commit's epoch: only an admin device of that commit may.
export async function sealMeta(body, { es, accepted, user, device, dsk, nonce }) {
  const c = accepted.commit;
  const member = findMember(c, user);
  if (!findDevice(c, user, device) || !member || member.role !== "admin") {
    throw new UR1Error("only an admin device of the epoch sets the room's name");
  }
  const n = nonce || randomBytes(12);
  const aad = metaAad(c.room, c.epoch, accepted.commitId, user, device);
  const padded = pad(encodeBody(checkMetaBody(body)));
  const sig = await ed25519Sign(dsk, await metaSignatureTbs(aad, c.kc, padded));
  const ct = await aeadSeal(await metaKey(es, c.room, c.epoch), n, concat(sig, padded), aad);
  return { v: 1, t: "meta", suite: SUITE, room: c.room, epoch: c.epoch, commit: b64uEncode(accepted.commitId),
    sender: { user, device }, n: b64uEncode(n), ct: b64uEncode(ct) };
}

// The name and topic, if an admin device of this accepted commit sealed them for this room.
export async function openMeta(obj, { room, accepted, es }) {
  checkKeys(obj, ["v", "t", "suite", "room", "epoch", "commit", "sender", "n", "ct"]);
  if (obj.v !== 1 || obj.t !== "meta" || obj.suite !== SUITE) throw new UR1Error("unknown metadata version, type or suite");
  const sender = checkKeys(obj.sender, ["user", "device"]);
  const ct = b64uDecode(checkStr(obj.ct));
  if (!PADDED_SIZES.includes(ct.length - 80) || ct.length - 80 > 4096) throw new UR1Error("bad ciphertext length");
  const blob = { room: checkId16(obj.room), epoch: checkInt(obj.epoch), commit: b64uDecode(checkStr(obj.commit), 32),
    user: checkUserId(sender.user), device: checkId16(sender.device), nonce: b64uDecode(checkStr(obj.n), 12) };
  if (blob.room !== room) throw new UR1Error("metadata for another room");
  if (!accepted || accepted.commit.room !== blob.room || accepted.commit.epoch !== blob.epoch
    || !equalBytes(accepted.commitId, blob.commit)) {
    throw new UR1Error("unknown epoch or epoch fork");
  }
  const signer = findDevice(accepted.commit, blob.user, blob.device);
  const member = findMember(accepted.commit, blob.user);
  if (!signer || !member || member.role !== "admin") throw new UR1Error("room metadata not from an admin of the epoch");
  const aad = metaAad(blob.room, blob.epoch, blob.commit, blob.user, blob.device);
  const plain = await aeadOpen(await metaKey(es, blob.room, blob.epoch), blob.nonce, ct, aad);
  const padded = plain.slice(64);
  await ed25519Verify(signer.dsk, await metaSignatureTbs(aad, accepted.commit.kc, padded), plain.slice(0, 64));
  let body;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(unpad(padded)));
  } catch {
    throw new UR1Error("bad room metadata");
  }
  return checkMetaBody(body);
}

// Attachments: 64 KiB chunks, nonce random8 ‖ u32(index), the last chunk flagged final in its AAD.
const CHUNK = 64 * 1024;

export function attachmentAad(index, final) {
  return concat(lp("ure2e/v1/att"), u32(index), Uint8Array.of(final ? 1 : 0));
}

export async function sealAttachment(data, key, prefix = randomBytes(8)) {
  if (prefix.length !== 8) throw new UR1Error("bad attachment nonce");
  const count = Math.max(1, Math.ceil(data.length / CHUNK));
  const parts = [];
  for (let i = 0; i < count; i++) {
    const nonce = concat(prefix, u32(i));
    parts.push(nonce, await aeadSeal(key, nonce, data.slice(i * CHUNK, (i + 1) * CHUNK), attachmentAad(i, i === count - 1)));
  }
  return concat(...parts);
}

export async function openAttachment(blob, key) {
  const step = 12 + CHUNK + 16;
  const chunks = [];
  for (let at = 0; at < blob.length; at += step) chunks.push(blob.slice(at, at + step));
  if (!chunks.length) chunks.push(new Uint8Array(0));
  const out = [];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i];
    if (chunk.length < 28 || !equalBytes(chunk.slice(8, 12), u32(i)) || !equalBytes(chunk.slice(0, 8), chunks[0].slice(0, 8))) {
      throw new UR1Error("bad attachment chunk");
    }
    out.push(await aeadOpen(key, chunk.slice(0, 12), chunk.slice(12), attachmentAad(i, i === chunks.length - 1)));
  }
  return concat(...out);
}

// --- backup (§4.9) -------------------------------------------------------------------------------

export const MIN_PBKDF2_ITERATIONS = 600000;
const KINDS = ["epoch", "msk", "pins"];
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function newParams(salt = randomBytes(16)) {
  return { v: 1, kdf: "pbkdf2-sha256", it: MIN_PBKDF2_ITERATIONS, salt: b64uEncode(salt) };
}

// Refuse any KDF outside the allow-list, a lowered cost or a salt that is not 16 bytes (§6 #17).
export function checkParams(params) {
  const kdf = params && typeof params === "object" ? params.kdf : undefined;
  if (kdf === "pbkdf2-sha256") {
    checkKeys(params, ["v", "kdf", "it", "salt"]);
    if (checkInt(params.it) < MIN_PBKDF2_ITERATIONS) throw new UR1Error("backup KDF cost below the minimum");
    // Upper bounds are ours (the spec sets only floors): a server must not make the client hang either.
    if (params.it > 10000000) throw new UR1Error("backup KDF cost above the maximum");
  } else if (kdf === "argon2id") {
    checkKeys(params, ["v", "kdf", "m", "t", "p", "salt"]);
    if (checkInt(params.m) < 65536 || checkInt(params.t) < 3 || checkInt(params.p, 1) > 16) {
      throw new UR1Error("backup KDF cost below the minimum");
    }
    if (params.m > 1048576 || params.t > 16) throw new UR1Error("backup KDF cost above the maximum");
  } else {
    throw new UR1Error("backup KDF not allowed");
  }
  if (params.v !== 1) throw new UR1Error("unknown backup parameters version");
  b64uDecode(checkStr(params.salt), 16);
  return params;
}

// UTF-8 of NFC(secret); a generated recovery key is also uppercased, without spaces and dashes.
export function normalizeSecret(secret, { recoveryKey = false } = {}) {
  let text = checkStr(secret).normalize("NFC");
  if (recoveryKey) text = text.toUpperCase().replace(/[ -]/g, "");
  if (!text) throw new UR1Error("empty recovery secret");
  return utf8(text);
}

export async function deriveRoot(secret, params, { recoveryKey = false } = {}) {
  checkParams(params);
  if (params.kdf !== "pbkdf2-sha256") {
    // Argon2id needs @noble/hashes (§2.3), which this client does not ship: refuse, never downgrade.
    throw new UR1Error("argon2id backups need a client with Argon2id");
  }
  const password = await subtle.importKey("raw", normalizeSecret(secret, { recoveryKey }), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: b64uDecode(params.salt, 16),
    iterations: params.it }, password, 256));
}

function backupInfo(user) {
  return concat(lp("ure2e/v1/backup-key"), lp(checkUserId(user)));
}

// BK as raw bytes: known-answer tests only.
export function backupKeyBytes(root, user) {
  return hkdf(root, backupInfo(user));
}

// BK as the non-extractable AES-GCM key every device keeps (§4.9).
export async function backupKey(root, user) {
  const ikm = await subtle.importKey("raw", root, "HKDF", false, ["deriveKey"]);
  return subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: ZERO_SALT, info: backupInfo(user) }, ikm,
    { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

export function manifestKeyBytes(root) {
  return hkdf(root, lp("ure2e/v1/backup-manifest"));
}

export function itemAad(user, kind, id, ver) {
  return concat(lp("ure2e/v1/backup"), lp(user), lp(kind), lp(id), u64(ver));
}

export async function sealItem(bk, user, kind, payload, { ver = 1, id = b64uEncode(randomBytes(16)), nonce = randomBytes(12) } = {}) {
  if (!KINDS.includes(kind)) throw new UR1Error("unknown backup kind");
  const ct = await aeadSeal(bk, nonce, utf8(JSON.stringify(payload)), itemAad(checkUserId(user), kind, checkId16(id), checkInt(ver)));
  return { v: 1, t: "bk", kind, id, ver, n: b64uEncode(nonce), ct: b64uEncode(ct) };
}

export async function openItem(bk, user, item) {
  checkKeys(item, ["v", "t", "kind", "id", "ver", "n", "ct"]);
  if (item.v !== 1 || item.t !== "bk" || !KINDS.includes(item.kind)) throw new UR1Error("unknown backup item");
  const aad = itemAad(checkUserId(user), item.kind, checkId16(item.id), checkInt(item.ver));
  const data = await aeadOpen(bk, b64uDecode(checkStr(item.n), 12), b64uDecode(checkStr(item.ct)), aad);
  let payload;
  try {
    payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    throw new UR1Error("backup item is not JSON");
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) throw new UR1Error("backup item is not an object");
  return payload;
}

// An epoch item's secret, only if it belongs to this accepted commit and matches its signed kc.
export async function restoreEpochSecret(payload, accepted) {
  checkKeys(payload, ["room", "epoch", "commit", "es"]);
  const c = accepted.commit;
  if (payload.room !== c.room || checkInt(payload.epoch) !== c.epoch
    || !equalBytes(b64uDecode(checkStr(payload.commit), 32), accepted.commitId)) {
    throw new UR1Error("backup item does not match the commit");
  }
  const es = b64uDecode(checkStr(payload.es), 32);
  if (!equalBytes(await keyCommitment(es, c.room, c.epoch), c.kc)) throw new UR1Error("backed-up secret does not match the commit (kc)");
  return es;
}

// 20 random bytes (160 bits) as 32 Crockford base32 characters in 8 groups of 4.
export function generateRecoveryKey() {
  let n = 0n;
  for (const b of randomBytes(20)) n = (n << 8n) | BigInt(b);
  let chars = "";
  for (let i = 31; i >= 0; i--) chars += CROCKFORD[Number((n >> BigInt(5 * i)) & 31n)];
  return chars.match(/.{4}/g).join("-");
}
