// "Set up encrypted rooms" (templates/messaging/keys_setup.html): first use on this device.
// The recovery key is shown once; nothing is stored, here or on the server, until the member typed
// it back. After that it leaves the page and this module's memory.

import { beginEnroll, cleanRecoveryKey } from "./account.js";
import { errorCode, fieldError, pageStates, showFailure, startKeysPage } from "./keys-ui.js";

const root = document.getElementById("keys-setup");
const show = pageStates(root);
const keyBox = root.querySelector("[data-key]");
const form = root.querySelector('[data-state="confirm"]');
const input = root.querySelector("[data-confirm-input]");
const inputError = root.querySelector("[data-confirm-error]");
let pending = null;
let store = null;

function guardLeaving(event) {
  event.preventDefault();
  event.returnValue = root.dataset.leaveWarning;
}

function fail(error) {
  if (errorCode(error) === "exists") {
    show("elsewhere");
    return;
  }
  showFailure(root, show, error);
}

function showKey(recoveryKey) {
  keyBox.replaceChildren(...recoveryKey.split("-").map((group) => {
    const span = document.createElement("span");
    span.textContent = group;
    return span;
  }));
}

function forgetKey() {
  keyBox.replaceChildren();
  input.value = "";
  pending = null;
  window.removeEventListener("beforeunload", guardLeaving);
}

async function create(options) {
  show("working");
  try {
    pending = await beginEnroll(store, undefined, options);
  } catch (error) {
    fail(error);
    return;
  }
  window.addEventListener("beforeunload", guardLeaving);
  showKey(pending.recoveryKey);
  show("show");
}

root.querySelector('[data-action="create"]').addEventListener("click", () => create({}));
const understood = root.querySelector("[data-reset-understood]");
const reset = root.querySelector('[data-action="reset"]');
understood.addEventListener("change", () => {
  reset.disabled = !understood.checked;
});
reset.addEventListener("click", () => {
  if (understood.checked) create({ reset: true });
});

root.querySelector('[data-action="print"]').addEventListener("click", () => window.print());
root.querySelector('[data-action="saved"]').addEventListener("click", () => {
  keyBox.replaceChildren(); // off screen while it is typed back
  inputError.hidden = true;
  show("confirm");
  input.focus();
});
root.querySelector('[data-action="back"]').addEventListener("click", () => {
  showKey(pending.recoveryKey);
  show("show");
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  let typed = "";
  try {
    typed = cleanRecoveryKey(input.value);
  } catch {
    typed = "";
  }
  if (typed !== pending.recoveryKey) {
    fieldError(input, inputError, document.getElementById("ure2e-errors").dataset.errorConfirm);
    return;
  }
  input.removeAttribute("aria-invalid");
  show("saving");
  try {
    await pending.finish();
  } catch (error) {
    forgetKey();
    fail(error);
    return;
  }
  forgetKey();
  show("done");
});

(async () => {
  store = await startKeysPage(show, { listed: "elsewhere", unlisted: "start" }, fail);
})();
