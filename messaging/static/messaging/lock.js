// Lock and panic wipe (templates/messaging/_lock.html). Both forget what this page decrypted and
// end the session; panic wipe also deletes this browser's keys (account.js). Another tab's lock or
// wipe reaches this page through account.js's BroadcastChannel and the `ure2e:locked` event.

import { lock, wipe } from "./account.js";

const section = document.querySelector(".ure2e-lock");
const status = section.querySelector("[data-lock-status]");
const logout = section.querySelector("form[data-logout]");
let ours = false;

// Whatever the page shows may be plaintext: take it all off the screen at once.
function blank() {
  for (const el of document.querySelectorAll("main > *")) if (el !== section) el.hidden = true;
  for (const el of section.children) if (el !== status) el.hidden = true;
  status.textContent = section.dataset.locked;
}

window.addEventListener("ure2e:locked", (event) => {
  const busy = status.textContent;
  blank();
  if (ours) status.textContent = busy;
  // This device found itself revoked in its signed device list and erased its keys: say so.
  if (event.detail && event.detail.reason === "revoked") {
    status.textContent = document.getElementById("ure2e-errors").dataset.errorRevoked;
    section.querySelector("[data-lock-restore]").hidden = false;
  }
});

for (const button of section.querySelectorAll("button[data-lock]")) {
  button.addEventListener("click", async () => {
    ours = true;
    const wiping = button.dataset.lock === "wipe";
    status.textContent = wiping ? section.dataset.wiping : section.dataset.locking;
    try {
      await (wiping ? wipe() : lock());
    } catch {
      status.textContent = section.dataset.failed;
      return;
    }
    logout.submit();
  });
}
