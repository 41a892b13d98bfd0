// The chat page (/rooms/<code>/, templates/messaging/room_chat.html): one RoomSession, one socket.
// Every word shown comes translated from the page's JSON block; every message is set as text,
// never as HTML (§4.7 step 7: XSS here would be key misuse).

import * as ur1 from "./ur1.js";
import { adoptRestoredEpoch, loadAccount, openStore, rememberEpochSecret } from "./account.js";
import { checkMembers, isSendBlocked, showKeyWarning } from "./verify.js";
import { RoomSession, RoomSocket, SendError } from "./room.js";
import { get } from "./api.js";

const data = JSON.parse(document.getElementById("room-data").textContent);
const T = data.texts;
const $ = (id) => document.getElementById(id);
const log = $("log");
const statusLine = $("status");
const form = $("composer");
const draft = $("draft");
const sensitive = $("sensitive");
const lang = document.documentElement.lang || undefined;
let session = null;
let store = null;
let account = null;
let context = null; // {kind: "reply"|"edit", item}
let readTimer = null;
const confirming = new Set(); // ids whose "delete for everyone?" question is open
const revealed = new Set(); // sensitive messages this reader chose to see

// Why a message was not sent, in the reader's words, from the error frame's code (room.js SendError).
const FAILED = { frame: T.failedFrame, too_large: T.failedTooLarge, rate: T.failedRate, room: T.failedRoom,
  stale: T.failedStale, refused: T.failedRefused };

function failedText(code) {
  return (code && Object.hasOwn(FAILED, code) && FAILED[code]) || T.failed;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}

function say(text) {
  statusLine.textContent = text;
}

function nameOf(user) {
  if (user === data.me) return T.you;
  return (Object.hasOwn(data.people, user) && data.people[user]) || T.someone;
}

// People a commit added after this page was loaded have no name in its data: once per new head,
// ask whom the reader shares a room with now (GET /people: pseudonyms only) and redraw their
// messages, rather than call a new member "someone no longer in the room".
let namesAskedAt = null;
async function learnNames() {
  const head = session.head;
  if (!head || namesAskedAt === head.commit.epoch) return;
  namesAskedAt = head.commit.epoch;
  const unknown = new Set(head.commit.members.map((m) => m.user).filter((u) => u !== data.me && !Object.hasOwn(data.people, u)));
  if (!unknown.size) return;
  const found = await get("/people");
  for (const person of found.people) if (unknown.has(person.user) && person.name) data.people[person.user] = person.name;
  for (const item of session.items.values()) if (unknown.has(item.user)) redraw(item);
}

// §4.8: my devices changed (a phone added or revoked) and this browser is one the room's keys are
// wrapped to: it commits my current devices itself (a member may), once per head, so that a new
// phone can send and a revoked one gets nothing more without waiting for an admin. An admin's page
// offers the whole rotation instead. If the server refuses (someone is due to leave), an admin does it.
let devicesTriedAt = null;
function updateMyDevices(detail) {
  const head = session.head;
  if (!head || !(detail.pending_devices || []).includes(data.me) || detail.admins.includes(data.me)) return;
  if (devicesTriedAt === head.commit.epoch) return;
  devicesTriedAt = head.commit.epoch;
  session.updateMyDevices().then((done) => {
    if (done) {
      const note = $("rotation-note");
      note.hidden = false;
      note.textContent = T.myDevices;
    }
  }).catch(() => {});
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, onClick, className = "link") {
  const b = el("button", className, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function timeOf(ts) {
  if (!ts) return "";
  return new Date(ts).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
}

function find(id) {
  return id ? log.querySelector(`li[data-id="${CSS.escape(id)}"]`) : null;
}

// One message as a list item; called again to redraw it after an edit, a delete or an ack.
function render(item) {
  const li = el("li", `msg${item.mine ? " mine" : ""}`);
  if (item.id) li.dataset.id = item.id;
  if (item.seq) li.dataset.seq = item.seq;
  li.dataset.state = item.state;
  if (item.ref) li.dataset.ref = item.ref;
  if (item.state === "undecryptable" || item.state === "nokey") {
    li.classList.add("problem");
    li.append(el("p", "who", item.user ? nameOf(item.user) : T.someone),
      el("p", "body", item.state === "nokey" ? T.noKey : T.undecryptable));
    return li;
  }
  const head = el("p", "who");
  head.append(el("strong", "", nameOf(item.user)), " ", el("time", "muted", timeOf(item.ts)));
  if (item.beforeRotation) head.append(" ", el("span", "muted", fill(T.parenthetical, { text: T.beforeRotation })));
  li.append(head);
  if (item.replyTo) {
    const target = session.items.get(item.replyTo);
    const quote = el("blockquote", "quote");
    quote.textContent = target ? fill(T.quoted, { name: nameOf(target.user), text: target.deleted ? T.deleted
      : target.sensitive ? T.sensitive : target.text.slice(0, 140) }) : T.someone;
    li.append(quote);
  }
  if (item.deleted) {
    li.append(el("p", "body deleted", T.deleted));
  } else if (item.sensitive) {
    const body = el("p", "body blurred", item.text);
    body.id = `body-${item.id}`;
    body.setAttribute("aria-hidden", "true");
    const show = (shown) => {
      toggle.setAttribute("aria-expanded", String(shown));
      toggle.textContent = shown ? T.hide : T.show;
      body.classList.toggle("blurred", !shown);
      body.setAttribute("aria-hidden", String(!shown));
      if (shown) revealed.add(item.id);
      else revealed.delete(item.id);
    };
    const toggle = button(T.show, () => show(toggle.getAttribute("aria-expanded") !== "true"), "secondary reveal");
    toggle.setAttribute("aria-controls", body.id);
    show(revealed.has(item.id));
    li.append(toggle, body);
  } else {
    li.append(el("p", "body", item.text));
  }
  if (item.edited && !item.deleted) li.append(el("span", "muted", T.edited));
  const actions = el("p", "actions-row");
  if (item.state === "pending") actions.append(el("span", "muted state", T.pending));
  if (item.state === "failed") {
    actions.append(el("span", "state failed", failedText(item.code)), " ", button(T.retry, () => session.retry(item.ref)));
  }
  if (item.state === "sent" && !item.deleted && item.seq) {
    actions.append(button(T.reply, () => startContext("reply", item)));
    if (item.mine) {
      actions.append(" ", button(T.edit, () => startContext("edit", item)), " ",
        button(T.delete, () => confirmDelete(item, actions)));
    }
  }
  if (confirming.has(item.id) && !item.deleted) askDelete(item, actions);
  li.append(actions);
  return li;
}

function askDelete(item, actions) {
  actions.replaceChildren(el("span", "", T.confirmDelete), " ",
    button(T.delete, () => {
      confirming.delete(item.id);
      sendBody({ type: "delete", target: item.id });
    }, "danger small"), " ",
    button(T.cancel, () => {
      confirming.delete(item.id);
      redraw(item);
    }, "secondary small"));
}

function confirmDelete(item, actions) {
  confirming.add(item.id);
  askDelete(item, actions);
  actions.querySelector("button").focus();
}

// A redrawn message keeps the keyboard where it was: on the button of the same name, if any.
function replaceKeepingFocus(old, fresh) {
  const focused = old.contains(document.activeElement) ? document.activeElement.textContent : null;
  old.replaceWith(fresh);
  if (focused === null) return;
  const same = [...fresh.querySelectorAll("button")].find((b) => b.textContent === focused);
  (same || fresh.querySelector("button") || draft).focus();
}

function redraw(item) {
  const old = (item.id && find(item.id)) || (item.ref && log.querySelector(`li[data-ref="${CSS.escape(item.ref)}"]`));
  const fresh = render(item);
  if (old) replaceKeepingFocus(old, fresh);
  return fresh;
}

function add(item, { prepend = false } = {}) {
  if (!item) return;
  const empty = log.querySelector(".notice.empty");
  if (empty) empty.remove();
  const existing = find(item.id);
  if (existing) {
    replaceKeepingFocus(existing, render(item));
    return;
  }
  const li = render(item);
  if (prepend) {
    log.prepend(li);
    return;
  }
  // Keep sequence order; pending items (no seq yet) stay at the end.
  const after = item.seq ? [...log.querySelectorAll("li[data-seq]")].find((n) => Number(n.dataset.seq) > item.seq) : null;
  const firstPending = log.querySelector("li:not([data-seq])");
  log.insertBefore(li, after || (item.seq ? firstPending : null));
  scheduleRead();
}

function startContext(kind, item) {
  context = { kind, item };
  $("context").hidden = false;
  $("context-text").textContent = kind === "reply" ? fill(T.replyingTo, { name: nameOf(item.user) }) : T.editing;
  if (kind === "edit") {
    draft.value = item.text;
    sensitive.checked = item.sensitive;
  }
  draft.focus();
}

function endContext() {
  context = null;
  $("context").hidden = true;
}

async function sendBody(body) {
  try {
    const item = await session.send(body);
    if (body.type === "text") add(item);
    return true;
  } catch (error) {
    say(error instanceof SendError && error.code === "too_long" ? T.tooLong : T.failed);
    return false;
  }
}

// §4.3: a changed identity key warns everywhere, and pauses sending in a verified-only room.
async function keyCheck() {
  if (!session.head) return false;
  const members = session.head.commit.members;
  const { changed } = await checkMembers(store, members, { me: account });
  const blocked = await isSendBlocked(store, session.detail, members, { me: account });
  showKeyWarning(document.querySelector("[data-key-warning]"), changed, { blocked, names: data.people });
  return blocked;
}

async function submit() {
  const text = draft.value.trim();
  if (!text) return;
  let body;
  if (context && context.kind === "edit") {
    body = { type: "edit", target: context.item.id, text, sensitive: sensitive.checked };
  } else {
    body = { type: "text", text, sensitive: sensitive.checked };
    if (context && context.kind === "reply") body.reply_to = context.item.id;
  }
  // Cleared at once, before anything awaits: what is typed meanwhile is the next message.
  const wasSensitive = sensitive.checked;
  draft.value = "";
  sensitive.checked = false;
  endContext();
  const sent = !(await keyCheck()) && (await sendBody(body));
  if (!sent && !draft.value) {
    draft.value = text;
    sensitive.checked = wasSensitive;
  }
}

function scheduleRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    if (document.visibilityState === "visible") session.markRead();
  }, 1000);
}

function showDetail(detail) {
  const section = $("rotation");
  const rotate = $("rotate");
  const devices = detail.pending_devices || [];
  const pending = detail.pending_add.length + detail.pending_remove.length + devices.length + (detail.rotation_due ? 1 : 0);
  $("rotation-due").hidden = !detail.rotation_due;
  $("pending-add").textContent = String(detail.pending_add.length);
  $("pending-remove").textContent = String(detail.pending_remove.length);
  $("pending-devices").textContent = String(devices.length);
  $("admin-names").textContent = detail.admins.map(nameOf).join(T.listSeparator);
  const isAdmin = detail.admins.includes(data.me);
  const mayStart = detail.epoch < 0 && rotate.dataset.mayStart === "yes";
  $("rename").hidden = !isAdmin || detail.epoch < 0;
  section.hidden = !pending && !mayStart;
  if (pending && !$("rotate").disabled) $("rotation-note").hidden = true; // a new change: the last result is old news
  rotate.hidden = !(isAdmin || mayStart);
  rotate.textContent = mayStart ? rotate.dataset.startLabel : rotate.dataset.updateLabel;
}

function wire() {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  draft.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape" && context) {
      endContext();
    }
  });
  $("context-cancel").addEventListener("click", () => {
    if (context && context.kind === "edit") draft.value = "";
    endContext();
    draft.focus();
  });
  $("older").addEventListener("click", async () => {
    const count = await session.olderPage();
    if (!count || session.firstSeq <= 1) $("older").hidden = true;
  });
  $("rotate").addEventListener("click", async () => {
    const rotate = $("rotate");
    const note = $("rotation-note");
    rotate.disabled = true;
    note.hidden = false;
    note.textContent = session.head ? T.rotating : T.starting;
    try {
      let result = await session.rotate();
      if (session.detail.pending_add.length && session.chain.length === 1) result = await session.rotate();
      note.textContent = T.rotated + (result.notReady ? ` ${fill(T.notReady, { n: result.notReady })}` : "");
      rotate.dataset.mayStart = "no";
      showDetail(session.detail);
      form.hidden = false;
    } catch (error) {
      // The reason stays out of the sentence: it is an untranslated protocol or HTTP message.
      note.textContent = T.rotateFailed;
      note.dataset.reason = error.detail || error.message || "";
    } finally {
      rotate.disabled = false;
    }
  });
  // The roll changes without a word to the room (a suspension, a new officer): look again now and then.
  $("rename-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("rename-status");
    const body = { name: $("rename-name").value.trim() };
    const topic = $("rename-topic").value.trim();
    if (topic) body.topic = topic;
    try {
      await session.setName(body);
      status.textContent = status.dataset.saved;
    } catch {
      status.textContent = status.dataset.failed;
    }
  });
  document.addEventListener("visibilitychange", () => {
    scheduleRead();
    if (document.visibilityState === "visible" && session.loaded) session.refreshDetail().catch(() => {});
  });
  setInterval(() => {
    if (document.visibilityState === "visible" && session.loaded) session.refreshDetail().catch(() => {});
  }, 60000);
}

async function main() {
  if (!(await ur1.supported())) {
    say(T.unsupported);
    return;
  }
  store = await openStore();
  account = await loadAccount(store);
  if (!account) {
    say(T.noAccount);
    $("setup").hidden = false;
    return;
  }
  const socket = new RoomSocket({
    onFrame: (frame) => session.handleFrame(frame),
    onState: (state) => {
      if (state === "online") {
        say(T.online);
        session.onReconnect();
      } else {
        say(state === "ended" ? T.removed : state === "offline" ? T.offline : T.reconnecting);
      }
    },
  });
  session = new RoomSession({ account, store, code: data.code, roomId: data.roomId, socket,
    onEpochSecret: (room, epoch, commitId, es) => rememberEpochSecret(account, store, { room, epoch, commitId, es }),
    adoptRestored: (accepted) => adoptRestoredEpoch(store, accepted),
    onCommit: (accepted) => checkMembers(store, accepted.commit.members, { me: account }) });
  // Lock or panic wipe (here or in another tab): drop the plaintext and stop listening.
  window.addEventListener("ure2e:locked", () => {
    socket.stop();
    log.replaceChildren();
    session.items.clear();
    draft.value = "";
  });
  session.on("message", (item) => add(item));
  session.on("restored", (item) => add(item));
  session.on("older", (items) => {
    for (const item of items.reverse()) add(item, { prepend: true });
  });
  session.on("update", (item) => redraw(item));
  session.on("outbox", (change) => {
    const item = session.items.get(change.newId || change.id);
    if (!item) return;
    if (change.newId) {
      const old = find(change.id);
      if (old) old.dataset.id = change.newId;
      item.id = change.newId;
    }
    if (item.seq === null) {
      item.state = change.state;
      if (change.state === "failed") item.code = change.code || "";
      if (change.seq) item.seq = change.seq;
      redraw(item);
    }
  });
  session.on("missing", ({ user }) => log.append(el("li", "notice", fill(T.missing, { name: nameOf(user) }))));
  session.on("detail", (detail) => {
    showDetail(detail);
    learnNames().catch(() => {}); // a name is a nicety: the page works without it
    updateMyDevices(detail);
  });
  session.on("name", ({ name, topic }) => {
    // Decrypted here; shown as text, with the union's own label for the room beneath it.
    $("room-name").textContent = name;
    $("room-kind").hidden = false;
    $("room-topic").textContent = topic || "";
    $("room-topic").hidden = !topic;
    document.title = document.title.replace($("room-kind").textContent, name);
  });
  session.on("removed", () => {
    say(T.removed);
    form.hidden = true;
    $("chat").classList.add("readonly");
  });
  session.on("error", () => say(T.reconnecting));
  wire();
  try {
    await session.load();
  } catch (error) {
    if (error instanceof ur1.UR1Error) {
      say(T.broken);
      statusLine.dataset.reason = error.message; // the check that failed, for whoever helps
      return;
    }
    throw error;
  }
  showDetail(session.detail);
  $("older").hidden = session.firstSeq <= 1;
  if (!log.children.length) log.append(el("li", "notice empty", T.noMessages));
  form.hidden = !(session.head && session.listedInEpoch(session.head.commit.epoch));
  await keyCheck();
  say(T.online);
  socket.start();
}

main();
