// What the keys pages share: one visible state at a time, focus moved to it for keyboards and
// screen readers, and an error's sentence from the template (templates/messaging/_errors.html).

import { AccountError, checkSupport, loadAccount, openStore } from "./account.js";
import { ApiError } from "./api.js";

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

export function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_m, name) => values[name] ?? "");
}
