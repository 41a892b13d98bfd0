// The rooms list (/rooms/, templates/messaging/room_list.html): unread counts go up live as
// messages arrive on the room socket. The list itself is server-rendered and works without this.
// No ur1.js here: counting needs no key, so the page stays light.

import { post } from "./api.js";

const list = document.getElementById("rooms");
const opener = document.getElementById("open-rooms");
const FIRST_MS = 1000;
const MAX_MS = 30000;
let attempt = 0;

function label(count) {
  return count === 1 ? list.dataset.unreadOne : list.dataset.unreadMany.replace("{n}", String(count));
}

function bump(code) {
  const row = [...list.querySelectorAll("li[data-code]")].find((li) => li.dataset.code === code);
  const badge = row && row.querySelector(".unread");
  if (!badge) return;
  const count = Number(badge.dataset.count || 0) + 1;
  badge.dataset.count = String(count);
  badge.textContent = label(count);
  row.classList.add("has-unread");
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${window.location.host}/ws/rooms/?batch=1`);
  ws.addEventListener("open", () => {
    attempt = 0;
  });
  ws.addEventListener("message", (event) => {
    let frame = null;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    const frames = frame && frame.type === "batch" && Array.isArray(frame.frames) ? frame.frames : [frame];
    for (const one of frames) {
      if (one && one.type === "message" && typeof one.room === "string") bump(one.room);
    }
  });
  ws.addEventListener("close", (event) => {
    if (event.code === 4001 || event.code === 4401) return; // session over: nothing to count
    const ceiling = Math.min(MAX_MS, FIRST_MS * 2 ** attempt++);
    setTimeout(connect, FIRST_MS / 2 + Math.random() * ceiling);
  });
}

if (list) connect();

// Open a room: the client makes its protocol id (16 random bytes, base64url) and the server keeps
// the room empty until the chat page's "Start" makes the genesis commit.
function roomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

if (opener) {
  opener.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-kind]");
    if (!button) return;
    button.disabled = true;
    try {
      const room = await post("/rooms", { kind: button.dataset.kind, parent: button.dataset.parent, room_id: roomId() });
      window.location.assign(`/rooms/${room.code}/`);
    } catch {
      const error = document.getElementById("open-error");
      error.textContent = opener.dataset.error;
      error.hidden = false;
      button.disabled = false;
    }
  });
}
