// One encrypted room in the browser (spec e2ee.md §4.4-§4.8) and the page's one room socket.
//
// RoomSession verifies the room's commit chain from genesis with ur1.js's acceptance rules, takes
// this device's wraps (handing each raw epoch secret once to `onEpochSecret`, which backs it up and
// stores it as a non-extractable key), opens and seals messages, keeps the replay set, reports
// counter gaps as missing messages, and makes an admin's commits (membership changes, new epochs).
// RoomSocket is the single WebSocket of a page, with jittered exponential backoff; after every
// (re)connection each session fetches everything after its last sequence number over HTTP, and
// sequence numbers make delivery exactly-once on the page. Messages typed go through an outbox in
// IndexedDB: the sealed envelope is stored before it is sent and re-sent as the same bytes, which
// the server answers with the sequence number it already gave (never a second message).
//
// Plain ES module, no library. Nothing here writes HTML: the page renders items as text.

import * as ur1 from "./ur1.js";
import * as api from "./api.js";

export const CLOSE_SESSION_ENDED = 4001;
export const CLOSE_ACCESS_CHANGED = 4003;
export const CLOSE_UNAUTHORIZED = 4401;
export const PAGE = 50; // messages per history page
export const ACK_TIMEOUT_MS = 10000; // a sent frame without an answer by then is "not sent" (retry is safe)
// A gap in the live numbers is fetched over HTTP after 1 to 2 s, if the socket has not filled it.
export const GAP_FETCH_MS = 1000;
export const GAP_GRACE_MS = 60000; // §4.7 step 4: counter gaps older than about a minute are reported
const PING_MS = 25000;
const MAX_REBUILDS = 3;
const BODY_TYPES = ["text", "edit", "delete"];
const MAX_TEXT = 20000;

// Exponential backoff with jitter: half a first step, plus up to the ceiling at random, so a server
// that comes back is not hit by every page at the same instant.
export function backoff(attempt, { first = 1000, max = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(max, first * 2 ** attempt);
  return first / 2 + random() * ceiling;
}

export class RoomSocket {
  // ?batch=1: a busy server may send a room's messages together, {type: "batch", frames: [...]}.
  constructor({ path = "/ws/rooms/?batch=1", onFrame = () => {}, onState = () => {} } = {}) {
    this.path = path;
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.ping = null;
    this.stopped = false;
    this.onOnline = () => this.reconnectNow();
  }

  get open() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  start() {
    window.addEventListener("online", this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    clearTimeout(this.timer);
    clearInterval(this.ping);
    if (this.ws) this.ws.close();
  }

  connect() {
    if (this.stopped) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${window.location.host}${this.path}`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.ping = setInterval(() => this.send({ type: "ping" }), PING_MS);
      this.onState("online");
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "batch" && Array.isArray(frame.frames)) {
        for (const one of frame.frames) if (one && typeof one === "object") this.onFrame(one);
      } else {
        this.onFrame(frame);
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      clearInterval(this.ping);
      this.ws = null;
      if (event.code === CLOSE_SESSION_ENDED || event.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.onState("ended");
        return;
      }
      this.onState(navigator.onLine === false ? "offline" : "reconnecting");
      // Access changed (a commit added or removed us): reconnect at once under the new rights.
      this.schedule(event.code === CLOSE_ACCESS_CHANGED ? 0 : backoff(this.attempt++));
    });
  }

  schedule(delay) {
    if (this.stopped || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  reconnectNow() {
    if (this.stopped || this.open) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  send(frame) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

function b64(bytes) {
  return ur1.b64uEncode(bytes);
}

function decodeBody(bytes) {
  const body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  if (!body || typeof body !== "object" || Array.isArray(body) || !BODY_TYPES.includes(body.type)) {
    throw new ur1.UR1Error("unknown message type");
  }
  const str = (v) => (typeof v === "string" && v.length <= MAX_TEXT ? v : null);
  const id = (v) => (typeof v === "string" && /^[A-Za-z0-9_-]{22}$/.test(v) ? v : null);
  const out = { type: body.type, ts: Number.isSafeInteger(body.ts) ? body.ts : null };
  if (body.type === "text") {
    out.text = str(body.text);
    if (out.text === null) throw new ur1.UR1Error("bad text");
    out.replyTo = body.reply_to === undefined ? null : id(body.reply_to);
    out.sensitive = body.sensitive === true;
  } else {
    out.target = id(body.target);
    if (!out.target) throw new ur1.UR1Error("bad target");
    if (body.type === "edit") {
      out.text = str(body.text);
      if (out.text === null) throw new ur1.UR1Error("bad text");
      out.sensitive = body.sensitive === true;
    }
  }
  return out;
}

function newRef() {
  return b64(ur1.randomBytes(12));
}

// Why a send failed, as a stable code the page turns into its reader's words: "too_long" (found
// here, before anything is sent) or the code of the server's error frame (messaging/consumers.py:
// "frame", "too_large", "rate", "room", "stale", "refused"). Never the English `detail`.
export class SendError extends ur1.UR1Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// An event emitter small enough to read: on(type, fn); emit(type, detail).
class Emitter {
  constructor() {
    this.handlers = new Map();
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
  }

  emit(type, detail) {
    for (const fn of this.handlers.get(type) || []) fn(detail);
  }
}

export class RoomSession extends Emitter {
  // account: {user, deviceId, deviceKeys: {dsk, dek}}; store: ur1-store.js Store;
  // onEpochSecret(room, epoch, commitId, es): keep the secret (back it up, store the key); the raw
  // bytes are zeroed after it returns. adoptRestored(accepted): the key of an epoch this browser got
  // from the backup (a restored device), if it matches this accepted commit (§4.9), else null.
  // pins: {user: {msk, verified}} from the verification page.
  constructor({ account, store, code, roomId, onEpochSecret = null, adoptRestored = null, pins = null, socket = null,
    onCommit = null, gapGraceMs = GAP_GRACE_MS, ackTimeoutMs = ACK_TIMEOUT_MS }) {
    super();
    this.adoptRestored = adoptRestored;
    this.onCommit = onCommit;
    this.gapGraceMs = gapGraceMs;
    this.ackTimeoutMs = ackTimeoutMs;
    this.account = account;
    this.store = store;
    this.code = code;
    this.roomId = roomId;
    this.onEpochSecret = onEpochSecret;
    this.pins = pins || Object.create(null);
    this.socket = socket;
    this.chain = []; // accepted commits by epoch
    this.acceptedAt = new Map(); // epoch -> seconds, for commits accepted live (old-epoch rule)
    this.keys = new Map(); // epoch -> HKDF CryptoKey
    this.detail = null;
    this.lastSeq = 0; // everything up to here was handled, in order
    this.firstSeq = null; // the oldest message shown
    this.seqs = new Set();
    this.items = new Map(); // message id -> item
    this.orphans = new Map(); // target id -> [edit or delete items] waiting for their target
    this.counters = new Map(); // "epoch device" -> Set of ctr seen
    this.gapTimers = new Map();
    this.early = new Map(); // live messages beyond a gap in the numbers, held until it fills
    this.gapTimer = null;
    this.inflight = new Map(); // ref -> outbox entry
    this.queue = Promise.resolve();
    this.commitLock = Promise.resolve();
    this.loaded = false;
    this.name = null; // {name, topic} once opened
  }

  get head() {
    return this.chain.length ? this.chain[this.chain.length - 1] : null;
  }

  // Serialize everything that touches the sequence: socket frames, catch-up, history pages.
  serial(fn) {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  // --- commits and keys -------------------------------------------------------------------------

  async deviceLists({ history = false } = {}) {
    const found = await api.get(`/rooms/${this.code}/device-lists${history ? "?history=true" : ""}`);
    const lists = Object.create(null);
    for (const obj of found.device_lists) {
      const parsed = await ur1.parseDeviceList(obj); // signed by its own MSK; acceptCommit matches it to the member's
      (lists[parsed.user] ||= []).push(parsed);
    }
    return lists;
  }

  // Each user's newest device list, as [list]: what the next commit lists.
  async newestLists() {
    const lists = Object.create(null);
    for (const [user, all] of Object.entries(await this.deviceLists())) {
      lists[user] = [all.reduce((a, b) => (b.version > a.version ? b : a))];
    }
    return lists;
  }

  // Fetch and accept, in order, every commit after our head (from genesis on the first call).
  // One at a time: a socket's "commit" frame and our own rotation may ask at once.
  syncCommits(options = {}) {
    const run = this.commitLock.then(() => this.acceptNewCommits(options));
    this.commitLock = run.catch(() => {});
    return run;
  }

  async acceptNewCommits({ live = false } = {}) {
    let after = this.head ? this.head.commit.epoch : -1;
    let lists = null;
    for (;;) {
      const { commits } = await api.get(`/rooms/${this.code}/commits?after=${after}`);
      if (!commits.length) break;
      lists ||= await this.deviceLists({ history: true });
      for (const obj of commits) {
        // Pins are verify.js's (onCommit): a changed key warns, and blocks sending in a verified-only
        // room, instead of making the whole room unreadable. `pins` here only if a caller insists.
        const accepted = await ur1.acceptCommit(obj, { room: this.roomId, previous: this.head, pins: this.pins,
          deviceLists: lists });
        this.chain.push(accepted);
        if (this.onCommit) await this.onCommit(accepted); // pins (verify.js): only after the signature checked
        if (live) this.acceptedAt.set(accepted.commit.epoch, Date.now() / 1000);
        if (accepted.needsRotation) this.emit("needsRotation", accepted.commit.epoch);
        after = accepted.commit.epoch;
      }
      if (commits.length < 200) break;
    }
    await this.takeWraps();
  }

  listedInEpoch(epoch) {
    const c = this.chain[epoch];
    return Boolean(c && c.commit.devices.some((d) => d.user === this.account.user && d.device === this.account.deviceId));
  }

  async keep(epoch, es, commitId = this.chain[epoch].commitId) {
    try {
      if (this.onEpochSecret) {
        await this.onEpochSecret(this.roomId, epoch, b64(commitId), es);
      } else {
        await this.store.saveEpochKey(this.roomId, epoch, await ur1.importEpochSecret(es));
      }
    } finally {
      es.fill(0);
    }
  }

  // The keys of the chain's epochs: stored here, or restored from the backup for epochs before this
  // device was listed (a new device restored from the recovery key reads the history the backup
  // holds, each secret checked against its commit); then this device's wraps for every epoch it is
  // listed in and holds no key for (rule 6, §4.6).
  async takeWraps() {
    const wanted = [];
    for (const accepted of this.chain) {
      const epoch = accepted.commit.epoch;
      if (this.keys.has(epoch)) continue;
      const listed = this.listedInEpoch(epoch);
      if (!listed && !this.adoptRestored) continue;
      let key = await this.store.loadEpochKey(this.roomId, epoch);
      if (!key && this.adoptRestored) key = await this.adoptRestored(accepted);
      if (key) this.keys.set(epoch, key);
      else if (listed) wanted.push(epoch);
    }
    if (!wanted.length) return;
    const { wraps } = await api.get(`/wraps?device=${this.account.deviceId}&after_epoch=${Math.min(...wanted) - 1}`);
    for (const wrap of wraps) {
      if (wrap.room !== this.roomId || !wanted.includes(wrap.epoch) || this.keys.has(wrap.epoch)) continue;
      const es = await ur1.openWrap(wrap, this.chain[wrap.epoch], { myUser: this.account.user,
        myDevice: this.account.deviceId, dek: this.account.deviceKeys.dek });
      await this.keep(wrap.epoch, es);
      const key = await this.store.loadEpochKey(this.roomId, wrap.epoch);
      if (key) this.keys.set(wrap.epoch, key);
    }
  }

  // Retention (§4.8): an epoch that ended (its successor was committed) longer ago than the room
  // keeps messages loses its key on this browser.
  async applyRetention(days) {
    const limit = Date.now() / 1000 - days * 86400;
    let keepFrom = 0;
    for (const accepted of this.chain.slice(1)) {
      if (accepted.commit.ts < limit) keepFrom = accepted.commit.epoch;
    }
    if (keepFrom > 0) {
      await this.store.forgetEpochsBefore(this.roomId, keepFrom);
      for (const epoch of [...this.keys.keys()]) if (epoch < keepFrom) this.keys.delete(epoch);
    }
  }

  async refreshDetail() {
    this.detail = await api.get(`/rooms/${this.code}`);
    this.emit("detail", this.detail);
    await this.openName().catch(() => {});
    return this.detail;
  }

  // The room's name and topic, sealed under K_m by an admin of an epoch we hold (§4.12); null if none.
  async openName() {
    const meta = this.detail && this.detail.meta;
    if (!meta) return null;
    const accepted = this.chain[meta.epoch];
    const key = this.keys.get(meta.epoch) || await this.store.loadEpochKey(this.roomId, meta.epoch);
    if (!accepted || !key) return null;
    const opened = await ur1.openMeta(meta, { room: this.roomId, accepted, es: key });
    this.name = opened;
    this.emit("name", opened);
    return opened;
  }

  // Admins: seal {name, topic?} under the current epoch's K_m and store it.
  async setName(body) {
    const head = this.head;
    const key = head && this.keys.get(head.commit.epoch);
    if (!key) throw new ur1.UR1Error("no key for the current epoch");
    const blob = await ur1.sealMeta(body, { es: key, accepted: head, user: this.account.user,
      device: this.account.deviceId, dsk: this.account.deviceKeys.dsk });
    this.detail = await api.put(`/rooms/${this.code}/meta`, blob);
    this.name = body;
    this.emit("name", body);
  }

  // --- loading and receiving --------------------------------------------------------------------

  async load() {
    await this.refreshDetail();
    await this.syncCommits();
    await this.applyRetention(this.detail.retention_days);
    await this.openName().catch(() => {}); // now that the chain and keys are here
    const last = this.detail.last_seq;
    const from = Math.max(0, last - PAGE);
    this.lastSeq = from;
    this.firstSeq = from + 1;
    await this.serial(() => this.fetchAfter());
    this.loaded = true;
    await this.resumeOutbox();
  }

  // Everything after lastSeq, in pages, in order (after a reconnection: nothing lost, nothing twice).
  async fetchAfter() {
    for (;;) {
      const page = await api.get(`/rooms/${this.code}/messages?after=${this.lastSeq}&limit=200`);
      for (const { seq, envelope } of page.messages) await this.ingest(seq, envelope);
      if (page.messages.length < 200) break;
    }
    for (const seq of this.early.keys()) if (seq <= this.lastSeq) this.early.delete(seq);
  }

  catchUp() {
    return this.serial(() => this.fetchAfter());
  }

  // Fetch over HTTP a gap that outlived its wait. In a busy room a new gap often opens while an
  // older one fills: what counts is whether the number awaited arrived, not whether some gap is open.
  awaitGap() {
    if (this.gapTimer) return;
    const waitingFor = this.lastSeq + 1;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (!this.early.size) return;
      if (this.lastSeq < waitingFor) this.catchUp().catch((error) => this.failed(error));
      else this.awaitGap();
    }, GAP_FETCH_MS * (1 + Math.random()));
  }

  // An older page of history, shown above what is there.
  olderPage() {
    return this.serial(async () => {
      if (!this.firstSeq || this.firstSeq <= 1) return 0;
      const after = Math.max(0, this.firstSeq - 1 - PAGE);
      const page = await api.get(`/rooms/${this.code}/messages?after=${after}&limit=${this.firstSeq - 1 - after}`);
      const items = [];
      for (const { seq, envelope } of page.messages) {
        if (this.seqs.has(seq)) continue;
        this.seqs.add(seq);
        items.push(await this.open(seq, envelope));
      }
      this.firstSeq = after + 1;
      this.emit("older", items.filter(Boolean));
      return items.length;
    });
  }

  // A frame from the socket: {type: "message"|"ack"|"error"|"commit"|"pending", ...}.
  handleFrame(frame) {
    if (frame.room !== undefined && frame.room !== this.code && frame.type !== "error") return;
    if (frame.type === "message") {
      this.serial(async () => {
        if (this.seqs.has(frame.seq) || frame.seq <= this.lastSeq) return;
        if (frame.seq > this.lastSeq + 1) {
          // A gap: the missing one is almost always just behind (two server processes relay in
          // the order each stored). Hold this one; fetch only if the gap is still there after a
          // jittered wait, so that a busy room's pages do not all ask the server at once.
          this.early.set(frame.seq, frame.envelope);
          this.awaitGap();
          return;
        }
        await this.ingest(frame.seq, frame.envelope);
        // What was held beyond the gap, now in order.
        while (this.early.has(this.lastSeq + 1)) {
          const seq = this.lastSeq + 1;
          const envelope = this.early.get(seq);
          this.early.delete(seq);
          await this.ingest(seq, envelope);
        }
        for (const seq of this.early.keys()) if (seq <= this.lastSeq) this.early.delete(seq);
      }).catch((error) => this.failed(error));
    } else if (frame.type === "ack" || frame.type === "error") {
      this.settle(frame);
    } else if (frame.type === "commit") {
      this.serial(async () => {
        await this.syncCommits({ live: true });
        await this.refreshDetail();
        this.emit("commit", this.head && this.head.commit.epoch);
      }).catch((error) => this.failed(error));
    } else if (frame.type === "meta") {
      this.refreshDetail().catch((error) => this.failed(error));
    } else if (frame.type === "pending") {
      this.refreshDetail().catch((error) => this.failed(error));
    }
  }

  async ingest(seq, envelope) {
    if (this.seqs.has(seq)) return;
    this.seqs.add(seq);
    this.lastSeq = Math.max(this.lastSeq, seq);
    const item = await this.open(seq, envelope);
    if (item) this.emit("message", item);
    // Our own message came back relayed: it is stored, whatever happened to the ack.
    for (const entry of this.inflight.values()) {
      if (item && entry.id === item.id) this.settle({ type: "ack", ref: entry.ref, seq });
    }
  }

  async checkReplay(env, seq) {
    // Persistent: the same (room, epoch, device, ctr) under another sequence number is a replay.
    const key = JSON.stringify([env.room, env.epoch, env.device, env.ctr]);
    const known = await this.store.get("seen", key);
    if (known !== undefined && known !== seq) throw new ur1.UR1Error("replayed message");
    if (known === undefined) await this.store.put("seen", key, seq);
  }

  noteCounter(env, user) {
    const key = `${env.epoch} ${env.device}`;
    if (!this.counters.has(key)) this.counters.set(key, new Set());
    const seen = this.counters.get(key);
    seen.add(env.ctr);
    const low = Math.min(...seen);
    const high = Math.max(...seen);
    const missing = high - low + 1 > seen.size;
    clearTimeout(this.gapTimers.get(key));
    if (missing) {
      this.gapTimers.set(key, setTimeout(() => {
        const now = this.counters.get(key);
        if (Math.max(...now) - Math.min(...now) + 1 > now.size) this.emit("missing", { user });
      }, this.gapGraceMs));
    }
  }

  // Receiver algorithm (§4.7) for one sequenced envelope; returns the item the page shows.
  async open(seq, envelope) {
    let env;
    try {
      env = ur1.parseEnvelope(envelope);
    } catch {
      return { seq, state: "undecryptable", id: null };
    }
    const base = { seq, id: null, user: env.user, epoch: env.epoch, state: "undecryptable" };
    if (env.epoch > (this.head ? this.head.commit.epoch : -1)) {
      await this.syncCommits({ live: true }).catch(() => {}); // a commit we have not fetched yet
    }
    const accepted = this.chain[env.epoch];
    if (!accepted) return base;
    let key = this.keys.get(env.epoch);
    if (!key && this.listedInEpoch(env.epoch)) {
      await this.takeWraps().catch(() => {});
      key = this.keys.get(env.epoch);
    }
    if (!key) return { ...base, state: "nokey" };
    let opened;
    let beforeRotation = false;
    try {
      await this.checkReplay(env, seq);
      opened = await ur1.openMessage(envelope, { room: this.roomId, accepted, es: key, replay: new ur1.ReplaySet() });
      const next = this.chain[env.epoch + 1];
      beforeRotation = ur1.checkOldEpoch({ senderUser: env.user, nextCommit: next || null,
        nextAcceptedAt: this.acceptedAt.has(env.epoch + 1) ? this.acceptedAt.get(env.epoch + 1) : null,
        receivedAt: Date.now() / 1000 });
      this.noteCounter(env, env.user);
      const body = decodeBody(opened.body);
      const item = { ...base, ...body, id: opened.messageId, state: "sent", ctr: env.ctr, device: env.device,
        mine: env.user === this.account.user, beforeRotation, edited: false, deleted: false };
      return this.place(item);
    } catch (error) {
      if (!(error instanceof ur1.UR1Error) && !(error instanceof SyntaxError) && !(error instanceof TypeError)) throw error;
      return base;
    }
  }

  // Text messages are items; edits and deletes change their target (only its own sender may).
  place(item) {
    if (item.type === "text") {
      this.items.set(item.id, item);
      for (const change of this.orphans.get(item.id) || []) this.apply(item, change);
      this.orphans.delete(item.id);
      return item;
    }
    const target = this.items.get(item.target);
    if (!target) {
      if (!this.orphans.has(item.target)) this.orphans.set(item.target, []);
      this.orphans.get(item.target).push(item);
      return null;
    }
    if (this.apply(target, item)) this.emit("update", target);
    return null;
  }

  apply(target, change) {
    if (change.user !== target.user || target.deleted) return false;
    if (change.type === "delete") {
      Object.assign(target, { deleted: true, text: "", sensitive: false });
    } else {
      Object.assign(target, { text: change.text, sensitive: change.sensitive, edited: true });
    }
    return true;
  }

  // --- sending ------------------------------------------------------------------------------------

  async seal(body) {
    const head = this.head;
    if (!head || !this.listedInEpoch(head.commit.epoch)) throw new ur1.UR1Error("not in the room's current epoch");
    const epoch = head.commit.epoch;
    const key = this.keys.get(epoch);
    if (!key) throw new ur1.UR1Error("no key for the current epoch");
    const ctr = await this.store.nextCounter(this.roomId, epoch, this.account.deviceId);
    return ur1.sealMessage(ur1.encodeBody(body), { es: key, accepted: head, user: this.account.user,
      device: this.account.deviceId, ctr, dsk: this.account.deviceKeys.dsk });
  }

  // Send a body ({type: "text", text, reply_to?, sensitive?} or an edit or delete). The envelope is
  // sealed and stored in the outbox first; the item it returns is "pending" until the server acks.
  async send(body) {
    const full = { ...body, ts: Date.now() };
    if (ur1.encodeBody(full).length + 1 > 65536) throw new SendError("too_long", "message too long for one envelope");
    const envelope = await this.seal(full);
    const id = await ur1.messageId(envelope);
    const entry = { ref: newRef(), room: this.code, id, body: full, envelope, state: "pending", at: Date.now() };
    await this.store.put("outbox", entry.ref, entry);
    const item = this.outboxItem(entry);
    this.transmit(entry);
    return item;
  }

  outboxItem(entry) {
    const body = entry.body;
    const item = { seq: null, id: entry.id, user: this.account.user, mine: true, state: entry.state, ref: entry.ref,
      type: body.type, text: body.text || "", replyTo: body.reply_to || null, sensitive: body.sensitive === true,
      target: body.target || null, ts: body.ts, edited: false, deleted: false, code: entry.code || "" };
    if (body.type === "text") this.items.set(item.id, item);
    return item;
  }

  transmit(entry) {
    this.inflight.set(entry.ref, entry);
    clearTimeout(entry.timer);
    if (!this.socket || !this.socket.send({ type: "send", room: this.code, ref: entry.ref, envelope: entry.envelope })) {
      return; // offline: stays pending, re-sent by resumeOutbox when the socket is back
    }
    entry.timer = setTimeout(() => this.fail(entry, ""), this.ackTimeoutMs);
  }

  // `code`: the error frame's code (SendError), "" when no answer came in time.
  async fail(entry, code) {
    clearTimeout(entry.timer);
    entry.state = "failed";
    entry.code = code;
    await this.store.put("outbox", entry.ref, { ...entry, timer: undefined });
    this.emit("outbox", { ref: entry.ref, id: entry.id, state: "failed", code });
  }

  async settle(frame) {
    const entry = this.inflight.get(frame.ref);
    if (!entry) return;
    clearTimeout(entry.timer);
    if (frame.type === "ack") {
      this.inflight.delete(frame.ref);
      await this.deleteOutbox(entry.ref);
      this.emit("outbox", { ref: entry.ref, id: entry.id, state: "sent", seq: frame.seq });
      // The relayed copy is usually just behind the ack; if it was lost with the connection, it
      // is fetched in order once it is overdue.
      if (frame.seq > this.lastSeq) {
        const seq = frame.seq;
        setTimeout(() => {
          if (this.lastSeq < seq) this.catchUp().catch((error) => this.failed(error));
        }, GAP_FETCH_MS * (1 + Math.random()));
      }
      return;
    }
    // Refused. If the room moved to a new epoch meanwhile, the server did not store it (it answers a
    // stored copy with an ack before it looks at the epoch), so the same body is sealed again in the
    // new epoch and sent: still one message.
    try {
      await this.syncCommits({ live: true });
    } catch {
      // shown as failed below
    }
    if (this.head && this.head.commit.epoch !== entry.envelope.epoch) {
      try {
        entry.envelope = await this.seal(entry.body);
        const oldId = entry.id;
        entry.id = await ur1.messageId(entry.envelope);
        await this.store.put("outbox", entry.ref, { ...entry, timer: undefined });
        this.emit("outbox", { ref: entry.ref, id: oldId, newId: entry.id, state: "pending" });
        this.transmit(entry);
        return;
      } catch {
        // fall through: shown as failed
      }
    }
    await this.fail(entry, typeof frame.code === "string" ? frame.code : "");
  }

  async deleteOutbox(ref) {
    const tx = this.store.db.transaction("outbox", "readwrite");
    tx.objectStore("outbox").delete(ref);
    await new Promise((resolve) => {
      tx.oncomplete = resolve;
      tx.onerror = resolve;
    });
  }

  // Retry a failed message: the very same envelope (the server answers a copy it has with its seq).
  async retry(ref) {
    const entry = this.inflight.get(ref) || await this.store.get("outbox", ref);
    if (!entry) return;
    entry.state = "pending";
    await this.store.put("outbox", entry.ref, { ...entry, timer: undefined });
    this.emit("outbox", { ref: entry.ref, id: entry.id, state: "pending" });
    this.transmit(entry);
  }

  // After (re)connecting and on load: what the outbox holds for this room is shown and re-sent.
  async resumeOutbox() {
    const tx = this.store.db.transaction("outbox", "readonly");
    const all = await new Promise((resolve) => {
      const req = tx.objectStore("outbox").getAll();
      req.onsuccess = () => resolve(req.result || []);
      req.onerror = () => resolve([]);
    });
    for (const entry of all) {
      if (!entry || entry.room !== this.code) continue;
      const stored = this.items.get(entry.id);
      if (stored && stored.seq !== null) {
        await this.deleteOutbox(entry.ref); // it reached the server before the page closed
        continue;
      }
      if (!this.inflight.has(entry.ref)) {
        this.inflight.set(entry.ref, entry);
        this.emit("restored", this.outboxItem(entry));
      }
      const known = this.inflight.get(entry.ref);
      if (known.state === "pending") this.transmit(known);
    }
  }

  onReconnect() {
    if (!this.loaded) return;
    this.serial(async () => {
      await this.syncCommits({ live: true });
      await this.refreshDetail();
      await this.fetchAfter();
    }).then(() => this.resumeOutbox()).catch((error) => this.failed(error));
  }

  // A 404 means we are no longer in the room; anything else is shown and retried on reconnect.
  failed(error) {
    if (error instanceof api.ApiError && error.status === 404) this.emit("removed");
    else this.emit("error", error);
  }

  async markRead() {
    if (this.lastSeq > 0) await api.post(`/rooms/${this.code}/read`, { seq: this.lastSeq }).catch(() => {});
  }

  // --- membership changes (admins) ----------------------------------------------------------------

  // What the roll asks for that the chain does not have yet: who to add, remove, or give another role.
  plan(lists) {
    const d = this.detail;
    const current = this.head ? this.head.commit.members : [];
    const removing = new Set(d.pending_remove);
    const users = new Set(current.map((m) => m.user).filter((u) => !removing.has(u)));
    for (const u of d.pending_add) users.add(u);
    const ready = [...users].filter((u) => lists[u] && lists[u].length);
    const notReady = [...users].filter((u) => !lists[u] || !lists[u].length);
    const role = (u) => (d.admins_entitled.includes(u) ? "admin" : "member");
    const roleChanges = current.filter((m) => users.has(m.user) && m.role !== role(m.user)).length;
    return { ready, notReady, role, roleChanges };
  }

  // Commit the pending changes as a new epoch with fresh wraps. On 409 (another admin moved the
  // head) fetch the new head and build again on it.
  async rotate() {
    for (let attempt = 0; attempt <= MAX_REBUILDS; attempt++) {
      await this.refreshDetail();
      await this.syncCommits({ live: true });
      const lists = await this.newestLists();
      const { ready, notReady, role } = this.plan(lists);
      const members = this.head ? ready : [this.account.user];
      try {
        await this.commitWith(members, role, lists);
        await this.refreshDetail();
        return { notReady: notReady.length };
      } catch (error) {
        if (!(error instanceof api.ApiError) || error.status !== 409 || attempt === MAX_REBUILDS) throw error;
      }
    }
    return { notReady: 0 };
  }

  // §4.8, a device added or revoked: this user's own device commits the same people, with the same
  // roles and everyone else's devices exactly as the head lists them, and this user's current devices
  // (a self-device commit, which a member who is not an admin may make). Only from a device the head
  // lists; the server refuses it while someone in the head has lost their place in the roll (then
  // an admin's rotation does both). True when a commit was made.
  async updateMyDevices() {
    const me = this.account.user;
    for (let attempt = 0; attempt <= MAX_REBUILDS; attempt++) {
      await this.syncCommits({ live: true });
      const head = this.head;
      if (!head || !this.listedInEpoch(head.commit.epoch)) return false;
      const [mine] = (await this.newestLists())[me] || [];
      if (!mine) return false;
      const listedNow = head.commit.devices.filter((d) => d.user === me).map((d) => d.device).sort();
      const current = mine.devices.map((d) => d.id).sort();
      if (listedNow.join() === current.join()) return false; // another of my browsers did it first
      const members = head.commit.members.map((m) => ({ user: m.user, msk: m.msk, role: m.role }));
      const devices = head.commit.devices.filter((d) => d.user !== me)
        .map((d) => ({ user: d.user, device: d.device, dek: d.dek, dsk: d.dsk }));
      for (const d of mine.devices) devices.push({ user: me, device: d.id, dek: d.dek, dsk: d.dsk });
      try {
        await this.commitSigned(members, devices);
        await this.refreshDetail();
        return true;
      } catch (error) {
        if (!(error instanceof api.ApiError) || error.status !== 409 || attempt === MAX_REBUILDS) throw error;
      }
    }
    return false;
  }

  async commitWith(users, role, lists) {
    const head = this.head;
    const members = [];
    const devices = [];
    for (const user of users) {
      const list = lists[user][0];
      members.push({ user, msk: list.msk, role: head ? role(user) : "admin" });
      for (const d of list.devices) devices.push({ user, device: d.id, dek: d.dek, dsk: d.dsk });
    }
    await this.commitSigned(members, devices);
  }

  // The next epoch with these members and devices: a fresh secret, the commit signed by this device,
  // a wrap for every device; stored with compare-and-swap (409 if the head moved).
  async commitSigned(members, devices) {
    const head = this.head;
    const epoch = head ? head.commit.epoch + 1 : 0;
    const es = ur1.randomBytes(32);
    try {
      const commit = { room: this.roomId, epoch, prev: head ? head.commitId : new Uint8Array(0),
        authorUser: this.account.user, authorDevice: this.account.deviceId, members, devices,
        kc: await ur1.keyCommitment(es, this.roomId, epoch), ts: Math.floor(Date.now() / 1000) };
      const json = await ur1.signCommit(this.account.deviceKeys.dsk, commit);
      const parsed = ur1.parseCommit(json);
      const accepted = { commit: parsed, commitId: await ur1.commitId(parsed) };
      const wraps = [];
      for (const d of devices) wraps.push(await ur1.makeWrap(es, accepted, d.user, d.device));
      await api.post(`/rooms/${this.code}/commits`, { commit: json, wraps });
      // Stored: keep the secret while it is in memory, then accept our own commit by the same rules.
      await this.keep(epoch, es, accepted.commitId);
      await this.syncCommits({ live: true });
      // The name is sealed again in the new epoch, so a member just removed never reads a later one.
      if (this.name && head) await this.setName(this.name).catch(() => {});
    } finally {
      es.fill(0);
    }
  }
}
