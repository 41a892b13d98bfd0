// "Verify a coworker" (templates/messaging/verify.html) and "Verify <name>" (verify_person.html):
// fetch a coworker's signed device list, pin its identity key on first sight, warn when it
// changed, and upgrade the pin to "verified" after an in-person check: scanning their QR code
// (BarcodeDetector, where the browser has it) or comparing their 60 digits (everywhere).
// Every sentence shown comes from the page (verify_texts.html): there is no JS catalogue.

import * as ur1 from "./ur1.js";
import * as api from "./api.js";
import { openStore } from "./account.js";
import {
  MATCH, NOT_A_CODE, changedUsers, getPin, markVerified, observe, pinStates, showKeyWarning,
  verifyDigits, verifyScanned,
} from "./verify.js";

const texts = () => document.querySelector("[data-verify-texts]").dataset;

function say(text, good = null) {
  const result = document.querySelector("[data-result]");
  result.textContent = text;
  result.classList.toggle("good", good === true);
  result.classList.toggle("bad", good === false);
}

function stateLabel(state) {
  const t = texts();
  return { verified: t.stateVerified, tofu: t.stateTofu, changed: t.stateChanged }[state] || t.stateUnknown;
}

function showState(element, state) {
  element.textContent = stateLabel(state);
  element.dataset.state = state || "unknown";
}

async function refreshWarning(store) {
  const warning = document.querySelector("[data-key-warning]");
  if (!warning) return;
  const names = {};
  for (const li of document.querySelectorAll("li[data-user]")) names[li.dataset.user] = li.querySelector("a").textContent;
  const page = document.querySelector("[data-verify-person-page]");
  if (page && page.dataset.name) names[page.dataset.person] = page.dataset.name;
  showKeyWarning(warning, await changedUsers(store), { names });
}

// The coworker's current key as the server gives it: their newest device list, signature checked.
// Null when they have not enrolled; the ApiError of a 404 when they share no room with us.
async function currentKey(user) {
  const found = await api.get(`/people/${encodeURIComponent(user)}`);
  if (!found.device_list) return null;
  const list = await ur1.parseDeviceList(found.device_list);
  if (list.user !== user) throw new ur1.UR1Error("device list of someone else");
  return list.msk;
}

// --- the camera ------------------------------------------------------------------------------------

async function scannerSupported() {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return false;
  try {
    return (await window.BarcodeDetector.getSupportedFormats()).includes("qr_code");
  } catch {
    return false;
  }
}

// Wire the scanner include: start shows the camera and calls onCode(text) with the first QR code seen.
async function setUpScanner(onCode) {
  const section = document.querySelector("[data-scanner]");
  if (!section) return;
  if (!(await scannerSupported())) {
    section.querySelector("[data-scan-unsupported]").hidden = false;
    return;
  }
  section.querySelector("[data-scan-supported]").hidden = false;
  const start = section.querySelector("[data-scan-start]");
  const stop = section.querySelector("[data-scan-stop]");
  const video = section.querySelector("[data-scan-video]");
  let stream = null;
  let timer = null;
  const end = () => {
    clearTimeout(timer);
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    video.hidden = stop.hidden = true;
    start.hidden = false;
  };
  stop.addEventListener("click", () => {
    end();
    start.focus();
  });
  start.addEventListener("click", async () => {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch {
      say(section.dataset.cameraFailed, false);
      return;
    }
    video.srcObject = stream;
    video.hidden = stop.hidden = false;
    start.hidden = true;
    stop.focus();
    await video.play().catch(() => {});
    const look = async () => {
      if (!stream) return;
      let codes = [];
      try {
        codes = await detector.detect(video);
      } catch {
        codes = [];
      }
      if (codes.length && stream) {
        end();
        start.focus();
        await onCode(codes[0].rawValue);
      } else {
        timer = setTimeout(look, 250);
      }
    };
    look();
  });
}

// --- the pages ---------------------------------------------------------------------------------------

function resultText(outcome) {
  const t = texts();
  return { match: t.match, mismatch: t.mismatch, "other-person": t.otherPerson, "not-a-code": t.notACode }[outcome];
}

async function listPage(page, store) {
  const states = await pinStates(store);
  for (const li of page.querySelectorAll("li[data-user]")) showState(li.querySelector("[data-pin-state]"), states[li.dataset.user]);
  await refreshWarning(store);
  await setUpScanner(async (text) => {
    let scanned;
    try {
      scanned = ur1.parseQrPayload(text);
    } catch {
      say(texts().notACode, false);
      return;
    }
    const li = [...page.querySelectorAll("li[data-user]")].find((item) => item.dataset.user === scanned.user);
    if (!li) {
      say(texts().notCoworker, false);
      return;
    }
    const current = await currentKey(scanned.user);
    if (!current) {
      say(texts().noKeys, false);
      return;
    }
    await observe(store, scanned.user, current);
    const outcome = await verifyScanned(store, text, scanned.user, current);
    say(resultText(outcome), outcome === MATCH);
    showState(li.querySelector("[data-pin-state]"), (await getPin(store, scanned.user)).state);
    await refreshWarning(store);
  });
  page.dataset.ready = "yes";
}

async function personPage(page, store) {
  const user = page.dataset.person;
  const stateElement = page.querySelector("[data-pin-state]");
  let current;
  try {
    current = await currentKey(user);
  } catch {
    stateElement.textContent = texts().offline;
    return;
  }
  if (!current) {
    stateElement.textContent = texts().noKeys;
    page.dataset.ready = "yes";
    return;
  }
  const pin = await observe(store, user, current);
  showState(stateElement, pin.state);
  await refreshWarning(store);
  const digits = page.querySelector("[data-digits]");
  const spaced = await ur1.safetyNumber(user, current);
  digits.replaceChildren(...spaced.split(" ").map((group) => Object.assign(document.createElement("span"), { textContent: group })));
  digits.setAttribute("aria-label", spaced);
  page.querySelector("[data-person]").hidden = false;

  const after = async (outcome) => {
    say(outcome === NOT_A_CODE ? texts().notDigits : resultText(outcome), outcome === MATCH);
    showState(stateElement, (await getPin(store, user)).state);
    await refreshWarning(store);
  };
  await setUpScanner(async (text) => {
    const outcome = await verifyScanned(store, text, user, current);
    if (outcome === NOT_A_CODE) say(texts().notACode, false);
    else await after(outcome);
  });
  page.querySelector("[data-digits-form]").addEventListener("submit", async (event) => {
    event.preventDefault();
    await after(await verifyDigits(store, page.querySelector("#typed-digits").value, user, current));
  });
  page.querySelector("[data-confirm-match]").addEventListener("click", async () => {
    await markVerified(store, user, current);
    await after(MATCH);
  });
  page.dataset.ready = "yes";
}

async function main() {
  // account.js's opener: a panic wipe closes this handle too before it deletes the database.
  const store = await openStore();
  const list = document.querySelector("[data-verify-list-page]");
  if (list) await listPage(list, store);
  const person = document.querySelector("[data-verify-person-page]");
  if (person) await personPage(person, store);
}

main();
