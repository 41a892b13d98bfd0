"""A member's new phone in an encrypted room, in Chromium (spec §4.8: a device added or revoked).

Bea restores her keys on a phone from her recovery key. No commit lists the phone yet, so it cannot
send. Either the admin's open page is told at once, counts her among the members with a new or
revoked device and the admin updates the room; or Bea's first browser, open on the room, commits
her current devices itself (a self-device commit). Then the phone reads the history the backup
holds and sends, and Bea's first browser and the admin read what it sent. Real pages, real
WebCrypto, the live Daphne of the browser tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing, LiveServer, log_in
from tests.browser.test_rooms_chat import ENROLL, bodies, send
from tests.browser.test_rooms_gaps import seed
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

# First use, keeping the recovery key (the keys page shows it once; here the test writes it down).
ENROLL_KEEPING_THE_KEY = """async () => {
  const keys = await import("/static/messaging/account.js");
  const { recoveryKey } = await keys.enroll(await keys.openStore());
  return recoveryKey;
}"""
RESTORE = """async (recoveryKey) => {
  const keys = await import("/static/messaging/account.js");
  return (await keys.restore(await keys.openStore(), recoveryKey)).deviceId;
}"""
def started_room(people: Callable[..., Browsing], live_tessera: LiveServer) -> dict[str, Any]:
    """An admin and Bea in a started room, Bea's first browser on the chat page, her phone logged in."""
    world = seed(live_tessera, "dev")
    room_url = f"/rooms/{world['room']}/"
    admin, bea, phone = people("desktop"), people("desktop"), people("phone-360x740")
    log_in(admin, world["organizer"], PASSWORD, two_factor=True)
    log_in(bea, world["bea"], PASSWORD)
    log_in(phone, world["bea"], PASSWORD)
    admin.goto("/rooms/")
    admin.page.evaluate(ENROLL)
    bea.goto("/rooms/")
    recovery_key = bea.page.evaluate(ENROLL_KEEPING_THE_KEY)
    admin.goto(room_url)
    banner = admin.page.get_by_role("region", name="Waiting for a change of keys")
    banner.get_by_role("button", name="Start the room and add them").click()
    expect(admin.page.locator("#rotation-note")).to_contain_text("Done: the room has new keys", timeout=20_000)
    expect(banner).to_be_hidden()
    bea.goto(room_url)
    expect(bea.page.locator("#status")).to_have_text("Connected")
    send(admin, "Before the new phone")
    expect(bodies(bea, "Before the new phone")).to_have_count(1)
    return {"url": room_url, "admin": admin, "bea": bea, "phone": phone, "key": recovery_key, "banner": banner}


def phone_reads_and_sends(room: dict[str, Any]) -> None:
    """The phone opens the room in the new epoch, reads what came before (restored from the backup)
    and sends; Bea's first browser and the admin read it."""
    admin, bea, phone = room["admin"], room["bea"], room["phone"]
    phone.goto(room["url"])
    expect(phone.page.locator("#status")).to_have_text("Connected", timeout=20_000)
    expect(bodies(phone, "Before the new phone")).to_have_count(1)
    send(phone, "Sent from my new phone")
    expect(phone.page.locator("#log li.msg", has_text="Sent from my new phone")).to_have_attribute(
        "data-state", "sent", timeout=10_000)
    expect(bodies(admin, "Sent from my new phone")).to_have_count(1)
    expect(bodies(bea, "Sent from my new phone")).to_have_count(1)


def test_a_restored_phone_waits_for_the_admins_update_then_reads_and_sends(people: Callable[..., Browsing],
                                                                          live_tessera: LiveServer) -> None:
    room = started_room(people, live_tessera)
    admin, bea, banner = room["admin"], room["bea"], room["banner"]
    bea.goto("/rooms/")  # Bea's first browser leaves the room's page: only the admin's can update it
    room["phone"].goto("/rooms/")
    room["phone"].page.evaluate(RESTORE, room["key"])
    # The admin's open page is told (no reload): one member with a new device.
    expect(banner).to_be_visible(timeout=10_000)
    expect(admin.page.locator("#pending-devices")).to_have_text("1")
    expect(banner).to_contain_text("Waiting to be added: 0 · waiting to be removed: 0 · members with a new or "
                                   "revoked device: 1")
    admin.screenshot("rooms-devices-1-new-phone-pending")
    banner.get_by_role("button", name="Update the room's members now").click()
    expect(admin.page.locator("#rotation-note")).to_contain_text("Done", timeout=20_000)
    expect(banner).to_be_hidden()
    bea.goto(room["url"])
    expect(bea.page.locator("#status")).to_have_text("Connected")
    phone_reads_and_sends(room)
    room["phone"].screenshot("rooms-devices-2-phone-sends")


def test_bea_s_own_browser_updates_the_room_for_her_new_phone(people: Callable[..., Browsing],
                                                              live_tessera: LiveServer) -> None:
    """§4.8: the user's own device (one the room's keys are wrapped to) makes the self-device commit;
    no admin is needed."""
    room = started_room(people, live_tessera)
    admin, bea = room["admin"], room["bea"]
    admin.goto("/rooms/")  # no admin page open on the room
    room["phone"].goto("/rooms/")
    room["phone"].page.evaluate(RESTORE, room["key"])
    expect(bea.page.locator("#rotation-note")).to_have_text(
        "Your devices changed: this browser gave the room new keys for your current devices.", timeout=20_000)
    bea.screenshot("rooms-devices-3-own-update")
    admin.goto(room["url"])
    expect(admin.page.locator("#status")).to_have_text("Connected")
    expect(room["banner"]).to_be_hidden()  # nothing left to do: the head lists Bea's current devices
    phone_reads_and_sends(room)


HEAD_DEVICES = """
from messaging.models import Commit, Room
room = Room.objects.get(code="{room}")
head = Commit.objects.get(room=room, epoch=room.epoch)
print(sorted(d["device"] for d in head.body["devices"] if d["user"] == "{user}"))
"""


def test_revoking_the_phone_gives_the_rooms_new_keys_without_it(people: Callable[..., Browsing],
                                                                 live_tessera: LiveServer) -> None:
    """The devices page, after a revocation, makes the self-device commit in each room this browser
    is listed in: the lost phone gets nothing more, before anyone opens the room."""
    room = started_room(people, live_tessera)
    admin, bea, phone = room["admin"], room["bea"], room["phone"]
    phone.goto("/rooms/")
    phone_device = phone.page.evaluate(RESTORE, room["key"])
    expect(bea.page.locator("#rotation-note")).to_contain_text("Your devices changed", timeout=20_000)
    phone_reads_and_sends(room)
    user = bea.page.evaluate("""async () => (await (await fetch("/api/messaging/devices")).json()).user""")
    code = room["url"].strip("/").split("/")[-1]

    def head_devices() -> list[str]:
        out = live_tessera.manage("shell", "-c", HEAD_DEVICES.format(room=code, user=user))
        return eval(out.strip().splitlines()[-1])  # noqa: S307 - our own script's printed list

    assert phone_device in head_devices()
    admin.goto("/rooms/")  # no room page open anywhere but the devices page
    # The lost phone leaves the room's page first: revoking ends its session, and its page's next
    # calls would be refused (401), which the watcher counts as a page problem.
    phone.goto("/")
    bea.goto("/rooms/devices/")
    bea.page.locator(f'[data-list] li[data-device="{phone_device}"]').get_by_role("button").click()
    bea.page.locator("dialog[data-confirm]").get_by_role("button", name="Revoke").click()
    expect(bea.page.locator("[data-status]")).to_contain_text("Rooms given new keys without it: 1.", timeout=20_000)
    bea.screenshot("rooms-devices-4-revoked-rooms-updated")
    assert phone_device not in head_devices() and len(head_devices()) == 1
    admin.goto(room["url"])
    expect(admin.page.locator("#status")).to_have_text("Connected")
    expect(room["banner"]).to_be_hidden()  # nothing pending: the head lists Bea's current devices
    phone.goto(room["url"])  # and the phone's session ended with its device
    assert "/account/login/" in phone.page.url
