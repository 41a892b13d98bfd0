// "Your safety number" (templates/messaging/safety_number.html): the 60 digits and the QR code of
// this browser's own identity key (e2ee.md §4.3), computed here from the key this browser holds,
// never from what the server says. Also shows the changed-key warning for pinned coworkers.

import * as ur1 from "./ur1.js";
import { loadAccount, openStore } from "./account.js";
import { encode, toSvg } from "./qr.js";
import { changedUsers, showKeyWarning } from "./verify.js";

// The digits as 12 groups of 5, each its own element so lines wrap between groups only.
export function renderDigits(element, spaced) {
  element.replaceChildren(...spaced.split(" ").map((group) => {
    const span = document.createElement("span");
    span.textContent = group;
    return span;
  }));
  element.setAttribute("aria-label", spaced);
}

async function main() {
  const page = document.querySelector("[data-safety-number-page]");
  const store = await openStore(); // account.js's: a panic wipe closes it before deleting the database
  const account = await loadAccount(store);
  page.querySelector("[data-loading]").hidden = true;
  const warning = document.querySelector("[data-key-warning]");
  if (warning) showKeyWarning(warning, await changedUsers(store));
  if (!account) {
    page.querySelector("[data-no-keys]").hidden = false;
    return;
  }
  if (account.user !== page.dataset.user) {
    page.querySelector("[data-other-account]").hidden = false;
    return;
  }
  const msk = ur1.b64uDecode(account.mskPub, 32);
  renderDigits(page.querySelector("[data-digits]"), await ur1.safetyNumber(account.user, msk));
  const qr = encode(ur1.qrPayload(account.user, msk), { ecl: "M" });
  page.querySelector("[data-qr]").replaceChildren(toSvg(qr, { title: page.dataset.qrTitle }));
  page.querySelector("[data-own]").hidden = false;
  page.dataset.ready = "yes";
}

main();
