// "Your devices" (templates/messaging/devices.html): the member's signed device list, verified
// under their own key here (never trusted from the server as is), and revoking a device.

import { adoptRestoredEpoch, listDevices, rememberEpochSecret, revokeDevice } from "./account.js";
import { get } from "./api.js";
import { errorCode, errorText, format, pageStates, start } from "./keys-ui.js";
import { RoomSession } from "./room.js";

const root = document.getElementById("devices");
const show = pageStates(root);
const list = root.querySelector("[data-list]");
const row = root.querySelector("template[data-row]");
const dialog = root.querySelector("dialog[data-confirm]");
const status = root.querySelector("[data-status]");
const dates = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });
let store = null;
let account = null;

function fail(error) {
  root.querySelector("[data-error]").textContent = errorText(error);
  show("error");
}

function name(id) {
  // The id is random: its first characters are enough to tell devices apart.
  return format(root.dataset.deviceLabel, { id: id.slice(0, 6) });
}

function render(devices) {
  list.replaceChildren(...devices.map((device) => {
    const item = row.content.firstElementChild.cloneNode(true);
    item.querySelector("[data-name]").textContent = name(device.id);
    item.querySelector("[data-this]").hidden = !device.thisDevice;
    item.querySelector("[data-added]").textContent = format(root.dataset.added,
      { date: dates.format(new Date(device.added * 1000)) });
    item.dataset.device = device.id;
    const button = item.querySelector("[data-revoke]");
    button.hidden = device.thisDevice;
    button.setAttribute("aria-label", `${button.textContent.trim()}: ${name(device.id)}`);
    button.addEventListener("click", () => confirmRevoke(device.id, button));
    return item;
  }));
}

// §4.8: after a revocation this browser gives each room whose keys it holds new keys without the
// revoked device (a self-device commit, RoomSession.updateMyDevices), so the lost device gets
// nothing more even before anyone opens the room. Rooms where this browser is not listed, or where
// the server refuses (someone is due to leave), wait for an admin: their pages say so.
async function updateRooms() {
  const { rooms } = await get("/rooms");
  let updated = 0;
  for (const room of rooms.filter((r) => r.joined && r.epoch >= 0)) {
    const session = new RoomSession({ account, store, code: room.code, roomId: room.room_id,
      onEpochSecret: (r, epoch, commitId, es) => rememberEpochSecret(account, store, { room: r, epoch, commitId, es }),
      adoptRestored: (accepted) => adoptRestoredEpoch(store, accepted) });
    try {
      if (await session.updateMyDevices()) updated += 1;
    } catch {
      // left to an admin's rotation
    }
  }
  return updated;
}

function confirmRevoke(id, button) {
  dialog.querySelector("[data-confirm-name]").textContent = name(id);
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "revoke") {
      button.focus();
      return;
    }
    for (const b of list.querySelectorAll("button")) b.disabled = true;
    try {
      const result = await revokeDevice(account, store, id);
      render(result.devices);
      status.textContent = format(root.dataset.revoked, { id: id.slice(0, 6) });
      list.closest("[data-state]").focus();
      const updated = await updateRooms().catch(() => 0);
      if (updated) status.textContent += ` ${format(root.dataset.roomsUpdated, { n: updated })}`;
    } catch (error) {
      if (errorCode(error) === "revoked") show("none");
      fail(error);
    }
  };
  dialog.showModal();
}

(async () => {
  try {
    const started = await start(show);
    if (!started) return;
    ({ store, account } = started);
    if (!account) {
      show("none", { focus: false });
      return;
    }
    const result = await listDevices(account, store);
    render(result.devices);
    show("list", { focus: false });
  } catch (error) {
    fail(error);
  }
})();
