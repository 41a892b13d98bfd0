// Live progress of a campaign's documents (templates/bargaining/_documents_panel.html).
// A generate button posts in the background (the page stays), and the steps pushed over
// /ws/bargaining/<code>/ (bargaining/consumers.py) move the <progress> bar and the status line,
// which screen readers announce (role="status"). When the version is ready its link and the
// preview of its first page are updated. Every word comes from the panel's data-* attributes,
// rendered by Django in the reader's language. Without this script the forms post as usual.

const CLOSE_SESSION_ENDED = 4001;
const CLOSE_UNAUTHORIZED = 4401;
const PING_MS = 30000;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30000;

const panel = document.querySelector("[data-document-progress]");

function words(name, version) {
  const text = panel.dataset[name] || "";
  return version === undefined || version === null ? text : text.replace("{version}", String(version));
}

function isLocalPath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") && !url.includes("\\");
}

function card(kind) {
  return [...panel.querySelectorAll(".document-card")].find((element) => element.dataset.kind === kind) || null;
}

function showStep(kind, step, percent, data = {}) {
  const element = card(kind);
  if (!element) {
    return;
  }
  const box = element.querySelector(".document-progress");
  const bar = element.querySelector("progress");
  const status = element.querySelector(".document-status");
  const button = element.querySelector("button[type=submit]");
  element.dataset.step = step;
  box.hidden = false;
  if (typeof percent === "number" && percent >= 0 && percent <= 100) {
    bar.value = Math.max(step === "failed" ? 0 : bar.value, percent);
  }
  const key = `step${step.charAt(0).toUpperCase()}${step.slice(1)}`;
  // Only the words change per step, so a screen reader hears each step once, not each percent.
  const text = words(key, data.version);
  if (text && status.textContent !== text) {
    status.textContent = text;
  }
  if (button) {
    button.disabled = !(step === "done" || step === "failed");
  }
  if (step === "done") {
    showVersion(element, data);
  }
}

function showVersion(element, data) {
  if (isLocalPath(data.download)) {
    const holder = element.querySelector(".document-link");
    const link = document.createElement("a");
    link.href = data.download;
    link.textContent = words("versionLabel", data.version);
    holder.replaceChildren(link);
  }
  const figure = element.querySelector(".document-preview");
  if (isLocalPath(data.preview)) {
    const image = document.createElement("img");
    image.src = data.preview;
    image.width = 160;
    image.height = 226;
    image.alt = words("previewAlt", data.version);
    figure.replaceChildren(image);
  }
}

async function generate(form, kind) {
  showStep(kind, "queued", 2);
  let response;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    showStep(kind, "failed", 0);
    return;
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) {
    showStep(kind, "failed", 0);
  } else if (data.step === "done") {
    // The socket may have said so already; with a worker the socket will say it later.
    showStep(kind, "done", 100, data);
  }
}

let socket = null;
let attempt = 0;
let pinger = null;

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${window.location.host}${panel.dataset.socketPath}`);
  socket.addEventListener("open", () => {
    attempt = 0;
    pinger = window.setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_MS);
  });
  socket.addEventListener("message", (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    if (data && data.type === "progress" && typeof data.kind === "string" && typeof data.step === "string") {
      showStep(data.kind, data.step, data.percent, data);
    }
  });
  socket.addEventListener("close", (event) => {
    window.clearInterval(pinger);
    socket = null;
    if (event.code === CLOSE_SESSION_ENDED || event.code === CLOSE_UNAUTHORIZED) {
      return; // retrying cannot help; the buttons still work, and a reload shows the result
    }
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    window.setTimeout(connect, delay);
  });
}

if (panel && "WebSocket" in window && panel.dataset.socketPath) {
  for (const element of panel.querySelectorAll(".document-card")) {
    const form = element.querySelector("form");
    if (form) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        generate(form, element.dataset.kind);
      });
    }
  }
  connect();
}
