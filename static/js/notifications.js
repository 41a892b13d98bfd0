// Live notifications: one WebSocket per page to /ws/notifications/ (union/consumers.py).
// Notices appear in the page's aria-live region (templates/base.html), so screen readers announce
// them. No dependencies, no inline code (the CSP forbids it); text is only ever set as textContent.

const CLOSE_SESSION_ENDED = 4001; // the server ended this session: log in again
const CLOSE_ACCESS_CHANGED = 4003; // roles or status changed: reconnect at once under the new rights
const CLOSE_UNAUTHORIZED = 4401; // no valid session at connect: retrying cannot help
const CLOSE_NO_PONG = 4000; // our own close when a ping went unanswered
const PING_INTERVAL_MS = 30000; // below the usual 60 s idle timeout of reverse proxies
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60000;
const MAX_SHOWN = 5;

const region = document.getElementById("notifications");

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const path = region.dataset.socketPath || "/ws/notifications/";
  return `${scheme}//${window.location.host}${path}`;
}

function isLocalPath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") && !url.includes("\\");
}

function show(text, url = "", kind = "") {
  if (typeof text !== "string" || !text) {
    return;
  }
  const item = document.createElement("p");
  item.className = "notification";
  if (typeof kind === "string" && kind) {
    item.dataset.kind = kind;
  }
  if (isLocalPath(url)) {
    const link = document.createElement("a");
    link.href = url;
    link.textContent = text;
    item.append(link);
  } else {
    item.append(document.createTextNode(text));
  }
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "link notification-dismiss";
  dismiss.textContent = region.dataset.dismissLabel || "Dismiss";
  dismiss.addEventListener("click", () => item.remove());
  item.append(" ", dismiss);
  region.append(item);
  while (region.children.length > MAX_SHOWN) {
    region.firstElementChild.remove();
  }
}

let socket = null;
let attempt = 0;
let retryTimer = null;
let pingTimer = null;
let awaitingPong = false;
let stopped = false;

function backoffDelay() {
  // Exponential with full jitter, so that a restarted server is not hit by every page at once.
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  attempt += 1;
  return BACKOFF_FIRST_MS / 2 + Math.random() * ceiling;
}

function scheduleReconnect() {
  if (stopped || retryTimer !== null) {
    return;
  }
  retryTimer = window.setTimeout(() => {
    retryTimer = null;
    connect();
  }, backoffDelay());
}

function ping() {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    return;
  }
  if (awaitingPong) {
    // The last ping went unanswered: the connection is dead even if the browser has not noticed.
    socket.close(CLOSE_NO_PONG);
    return;
  }
  awaitingPong = true;
  socket.send(JSON.stringify({ type: "ping" }));
}

function handle(event) {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  if (!data || typeof data !== "object") {
    return;
  }
  if (data.type === "pong") {
    awaitingPong = false;
  } else if (data.type === "notify") {
    show(data.text, data.url, data.kind);
  } else if (data.type === "roles.changed") {
    show(region.dataset.rolesChanged || "Your roles have changed. Reload the page to see what you can do now.");
  }
}

function connect() {
  if (stopped) {
    return;
  }
  socket = new WebSocket(socketUrl());
  socket.addEventListener("open", () => {
    attempt = 0;
    awaitingPong = false;
    pingTimer = window.setInterval(ping, PING_INTERVAL_MS);
  });
  socket.addEventListener("message", handle);
  socket.addEventListener("close", (event) => {
    window.clearInterval(pingTimer);
    pingTimer = null;
    socket = null;
    if (event.code === CLOSE_SESSION_ENDED || event.code === CLOSE_UNAUTHORIZED) {
      stopped = true;
      if (event.code === CLOSE_SESSION_ENDED) {
        show(region.dataset.sessionEnded || "Your session has ended. Log in again to continue.");
      }
      return;
    }
    if (event.code === CLOSE_ACCESS_CHANGED) {
      attempt = 0;
    }
    scheduleReconnect();
  });
}

if (region && "WebSocket" in window) {
  // Back online: try now rather than waiting out the backoff.
  window.addEventListener("online", () => {
    if (!stopped && socket === null && retryTimer !== null) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
      attempt = 0;
      connect();
    }
  });
  connect();
}
