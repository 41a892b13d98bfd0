// What the keys pages share: one visible state at a time, focus moved to it for keyboards and
// screen readers, an error's sentence from the template (templates/messaging/_errors.html), the
// start-up, the failure state and a field's error. A plain ES module.

import { AccountError, checkSupport, loadAccount, openStore } from "./account.js";
import { ApiError, get } from "./api.js";

export function pageStates(root) {
  const states = [...root.querySelectorAll("[data-state]")];
  return function show(name, { focus = true } = {}) {
    let shown = null;
    for (const el of states) {
      el.hidden = el.dataset.state !== name;
      if (!el.hidden) shown = el;
    }
    if (shown && focus && shown.tabIndex >= -1 && shown.hasAttribute("tabindex")) shown.focus();
    return shown;
  };
}

function camel(code) {
  return code.replace(/-([a-z])/g, (_m, c) => c.toUpperCase());
}

// The sentence for an error: AccountError codes, "offline" for a network failure, "server" else.
export function errorText(error) {
  const words = document.getElementById("ure2e-errors").dataset;
  let code = "unknown";
  if (error instanceof AccountError) code = error.code;
  else if (error instanceof ApiError) code = error.status === 0 ? "offline" : "server";
  return words[`error${camel(code.charAt(0).toUpperCase() + code.slice(1))}`] || words.errorUnknown;
}

export function errorCode(error) {
  return error instanceof AccountError ? error.code : "";
}

// Feature detection first (§2.1), then this device's account (null when not set up here).
export async function start(show) {
  show("checking", { focus: false });
  if (!(await checkSupport())) {
    show("unsupported");
    return null;
  }
  const store = await openStore();
  return { store, account: await loadAccount(store) };
}

// The start-up both key pages share: feature detection, then "ready-here" when this device holds
// the account, else the `listed` or `unlisted` state as the server has a device list for the
// member or not. Returns the store (null when the browser is unsupported or it failed: `fail`
// was told).
export async function startKeysPage(show, { listed, unlisted }, fail) {
  try {
    const started = await start(show);
    if (!started) return null;
    if (started.account) {
      show("ready-here");
      return started.store;
    }
    const mine = await get("/devices");
    show(mine.device_list ? listed : unlisted, { focus: false });
    return started.store;
  } catch (error) {
    fail(error);
    return null;
  }
}

// The end of a page for an error the member cannot fix here: its sentence, the "error" state.
export function showFailure(root, show, error) {
  root.querySelector("[data-error]").textContent = errorText(error);
  show("error");
}

// A mistake the member fixes by typing again: the sentence under the field (announced by the
// template's live region), the field marked invalid, and the focus back in it.
export function fieldError(input, message, text) {
  message.textContent = text;
  message.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

export function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_m, name) => values[name] ?? "");
}
