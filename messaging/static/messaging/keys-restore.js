// "Restore on this device" (templates/messaging/keys_restore.html): the recovery key opens the
// backup; a wrong key is refused with nothing changed, and the form stays to try again.

import { restore } from "./account.js";
import { ApiError } from "./api.js";
import { errorCode, errorText, fieldError, pageStates, showFailure, startKeysPage } from "./keys-ui.js";

const root = document.getElementById("keys-restore");
const show = pageStates(root);
const form = root.querySelector('[data-state="form"]');
const input = root.querySelector("[data-key-input]");
const formError = root.querySelector("[data-form-error]");
let store = null;

// Mistakes the member can fix by typing again stay on the form; the rest end the page.
const RETRY = ["key-format", "wrong-key"];

const fail = (error) => showFailure(root, show, error);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const typed = input.value;
  show("working");
  try {
    await restore(store, typed);
  } catch (error) {
    if (RETRY.includes(errorCode(error)) || (error instanceof ApiError && error.status === 0)) {
      show("form", { focus: false });
      fieldError(input, formError, errorText(error));
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
  store = await startKeysPage(show, { listed: "form", unlisted: "none" }, fail);
})();
