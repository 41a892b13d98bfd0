// "Restore on this device" (templates/messaging/keys_restore.html): the recovery key opens the
// backup; a wrong key is refused with nothing changed, and the form stays to try again.

import { restore } from "./account.js";
import { ApiError, get } from "./api.js";
import { errorCode, errorText, pageStates, start } from "./keys-ui.js";

const root = document.getElementById("keys-restore");
const show = pageStates(root);
const form = root.querySelector('[data-state="form"]');
const input = root.querySelector("[data-key-input]");
const formError = root.querySelector("[data-form-error]");
let store = null;

// Mistakes the member can fix by typing again stay on the form; the rest end the page.
const RETRY = ["key-format", "wrong-key"];

function fail(error) {
  root.querySelector("[data-error]").textContent = errorText(error);
  show("error");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const typed = input.value;
  show("working");
  try {
    await restore(store, typed);
  } catch (error) {
    if (RETRY.includes(errorCode(error)) || (error instanceof ApiError && error.status === 0)) {
      formError.textContent = errorText(error);
      formError.hidden = false;
      input.setAttribute("aria-invalid", "true");
      show("form", { focus: false });
      input.focus();
      return;
    }
    if (errorCode(error) === "no-account") {
      show("none");
      return;
    }
    fail(error);
    return;
  }
  input.value = "";
  show("done");
});

(async () => {
  try {
    const started = await start(show);
    if (!started) return;
    store = started.store;
    if (started.account) {
      show("ready-here");
      return;
    }
    const mine = await get("/devices");
    show(mine.device_list ? "form" : "none", { focus: false });
  } catch (error) {
    fail(error);
  }
})();
