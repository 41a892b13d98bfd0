"""Verification in Debian's Chromium (e2ee.md §4.3): the QR encoder, the safety-number page, and
verifying a coworker by scanning or by the 60 digits, against a live Daphne.

The QR codes qr.js draws are read back by zbarimg (Debian's zbar-tools), an independent decoder,
from screenshots of the SVG as Chromium renders it; their module matrices are also compared bit for
bit with python-qrcode's for the same version, level and mask. Linux Chromium has no
BarcodeDetector, so the scanning test gives the page a stand-in detector and camera: what they
"see" is the payload the coworker's code carries (the encoder test shows the code carries it).

Setting up people and a room goes through the server's HTTP API only, with the Python reference
client: the organizer `baraka` opens a committee room, seats the member `amani` and commits both.
In each test's fresh browser, amani then makes her keys with the real account.js (as
test_keys_flow.py does; a new identity key each time, the next version of her device list), so the
pages read the identity this browser really holds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from messaging import ur1
from messaging.client import Account, Peer, new_id16
from messaging.client.__main__ import Session, sync_room
from tests.browser.conftest import ARTIFACTS, Browsing, LiveServer, log_in
from tests.services import need

pytestmark = pytest.mark.browser

ORGANIZER, MEMBER = "baraka", "amani"
PAYLOAD_BYTES = len("ure2e:v1:") + 32 + 1 + 43  # a Tessera user id is 32 hex characters


def zbarimg(png: Path) -> str:
    need(shutil.which("zbarimg") is not None, "zbarimg not found (apt-get install zbar-tools)")
    done = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"zbarimg could not read {png.name}: {done.stderr}"
    return done.stdout.removesuffix("\n")


def load_module(page: Any, path: str) -> None:
    page.evaluate("async (path) => { window.__m = window.__m || {}; window.__m[path] = await import(path); }", path)


# --- the encoder -------------------------------------------------------------------------------------

DRAW = """([text, ecl, mask]) => {
  const qr = window.__m["/static/messaging/qr.js"];
  const code = qr.encode(text, { ecl, mask });
  const box = document.createElement("div");
  box.id = "qr-under-test";
  box.style.cssText = "position:fixed;left:0;top:0;z-index:99;background:#fff;width:" + (code.size + 8) * 4 + "px";
  const svg = qr.toSvg(code, { title: "code" });
  svg.style.cssText = "display:block;width:100%;height:auto";
  box.append(svg);
  document.getElementById("qr-under-test")?.remove();
  document.body.append(box);
  return { version: code.version, mask: code.mask, rows: code.modules.map((row) => Array.from(row).join("")) };
}"""


def reference_rows(text: str, version: int, ecl: str, mask: int) -> list[str]:
    """python-qrcode's matrix for the same content, version, level and mask (no quiet zone)."""
    import qrcode
    from qrcode.util import QRData

    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    code = qrcode.QRCode(version=version, error_correction=levels[ecl], border=0, mask_pattern=mask)
    code.add_data(QRData(text.encode(), mode=4))  # byte mode (qrcode.util.MODE_8BIT_BYTE)
    code.make(fit=False)
    return ["".join("1" if dark else "0" for dark in row) for row in code.get_matrix()]


def test_qr_codes_decode_with_zbarimg_and_match_a_reference(browsing: Browsing, tmp_path: Path) -> None:
    page = browsing.page
    browsing.goto("/")
    load_module(page, "/static/messaging/qr.js")
    payload = ur1.qr_payload("0123456789abcdef0123456789abcdef", bytes(range(1, 33)))
    assert len(payload) == PAYLOAD_BYTES
    cases: list[tuple[str, str, int | None]] = [(payload, ecl, None) for ecl in "LMQH"]
    cases += [(payload, "Q", mask) for mask in range(8)]
    # Versions 1 to 10 at level M (byte capacities 14, 26, 42, 62, 84, 106, 122, 152, 180, 213),
    # the longest user id (64 characters) of §4.1, and text beyond ASCII (with its UTF-8 ECI header).
    cases += [("a" * 14, "M", None), ("a" * 26, "M", None), ("b" * 40, "M", None), ("c" * 60, "M", None),
              ("d" * 80, "M", None), ("e" * 106, "M", None), ("f" * 120, "M", None), ("g" * 150, "M", None),
              ("h" * 180, "M", None), ("i" * 213, "M", None),
              (ur1.qr_payload("u" * 64, bytes(range(1, 33))), "M", 5), ("Habari yako? ñandú €", "Q", None)]
    versions = set()
    for n, (text, ecl, mask) in enumerate(cases):
        drawn = page.evaluate(DRAW, [text, ecl, mask])
        versions.add(drawn["version"])
        if mask is not None:
            assert drawn["mask"] == mask
        if text.isascii():  # python-qrcode writes no ECI header
            assert drawn["rows"] == reference_rows(text, drawn["version"], ecl, drawn["mask"]), (text[:20], ecl, mask)
        png = tmp_path / f"qr-{n}.png"
        page.locator("#qr-under-test").screenshot(path=str(png))
        assert zbarimg(png) == text, (text[:20], ecl, mask, drawn["version"])
    assert versions == set(range(1, 11))
    # Too long for version 10 is refused, not silently cut.
    refused = page.evaluate("""() => { try { window.__m["/static/messaging/qr.js"].encode("x".repeat(214));
      return false; } catch (e) { return e.name; } }""")
    assert refused == "QrError"


def test_reed_solomon_matches_the_textbook_example(browsing: Browsing) -> None:
    """"HELLO WORLD" at 1-M (ISO 18004's example as thonky.com works it): 16 data, 10 EC codewords."""
    browsing.goto("/")
    load_module(browsing.page, "/static/messaging/qr.js")
    data = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
    ec = browsing.page.evaluate('(data) => window.__m["/static/messaging/qr.js"].reedSolomon(data, 10)', data)
    assert ec == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23]


# --- verify.js on its own -------------------------------------------------------------------------

PIN_LOGIC = """async () => {
  const v = await import("/static/messaging/verify.js");
  const ur1 = await import("/static/messaging/ur1.js");
  const { Store, panicWipe } = await import("/static/messaging/ur1-store.js");
  await panicWipe("verify-unit");
  const store = await Store.open("verify-unit");
  const key = async (seed) => (await ur1.ed25519FromSeed(new Uint8Array(32).fill(seed))).publicKey;
  const [k1, k2, k3, mine] = [await key(1), await key(2), await key(3), await key(9)];
  const out = {};
  out.first = (await v.observe(store, "bob", k1)).state;
  out.same = (await v.observe(store, "bob", k1)).state;
  const changed = await v.observe(store, "bob", k2);
  out.changed = [changed.state, ur1.equalBytes(changed.previous, k1), ur1.equalBytes(changed.msk, k2)];
  const back = await v.observe(store, "bob", k1);  // the server flips back: still changed, the old key kept
  out.flipBack = [back.state, ur1.equalBytes(back.previous, k1)];
  out.third = ur1.equalBytes((await v.observe(store, "bob", k3)).previous, k1);
  out.wrongDigits = await v.verifyDigits(store, "1".repeat(60), "bob", k3);
  out.shortDigits = await v.verifyDigits(store, "123", "bob", k3);
  out.afterWrong = (await v.getPin(store, "bob")).state;
  out.otherCode = await v.verifyScanned(store, ur1.qrPayload("carol", k3), "bob", k3);
  out.oldKeyCode = await v.verifyScanned(store, ur1.qrPayload("bob", k1), "bob", k3);
  out.junk = await v.verifyScanned(store, "https://example.org/", "bob", k3);
  out.afterScans = (await v.getPin(store, "bob")).state;
  out.goodCode = await v.verifyScanned(store, ur1.qrPayload("bob", k3), "bob", k3);
  out.afterGood = (await v.getPin(store, "bob")).state;
  out.normalize = [v.normalizeDigits("30387 52543-83522 " + "0".repeat(45)), v.normalizeDigits("1".repeat(59)),
                   v.normalizeDigits("1".repeat(59) + "x")];
  // checkMembers: TOFU for new people, changes reported, our own key compared with the account's.
  const me = { user: "me", mskPub: ur1.b64uEncode(mine) };
  out.members = await v.checkMembers(store, [{ user: "carol", msk: k1 }, { user: "bob", msk: ur1.b64uEncode(k3) },
                                             { user: "me", msk: mine }], { me });
  out.meSwapped = await v.checkMembers(store, [{ user: "me", msk: k2 }], { me });
  out.daveChanged = await v.checkMembers(store, [{ user: "dave", msk: k1 }, { user: "dave", msk: k2 }]);
  const room = { room_id: "AAAAAAAAAAAAAAAAAAAAAA", verified_only: true };
  out.blocked = await v.isSendBlocked(store, room, [{ user: "dave", msk: k2 }]);
  out.notBlockedBob = await v.isSendBlocked(store, room, [{ user: "bob", msk: k3 }]);
  out.sticky = await v.isSendBlocked(store, { ...room, verified_only: false }, [{ user: "dave", msk: k2 }]);
  out.openRoom = await v.isSendBlocked(store, { room_id: "BBBBBBBBBBBBBBBBBBBBBA", verified_only: false },
                                       [{ user: "dave", msk: k2 }]);
  out.pinsForCommit = Object.keys(await v.pinsForCommit(store)).sort();
  // Backups never weaken a pin: a backup's other key for dave is ignored, its verified bob is kept.
  const exported = await v.exportPins(store);
  await v.importPins(store, [{ user: "dave", msk: ur1.b64uEncode(k3), state: "verified" }]);
  out.importKeeps = (await v.getPin(store, "dave")).state;
  store.close();  // a wipe waits for every open handle to close
  await panicWipe("verify-unit");
  const fresh = await Store.open("verify-unit");
  await v.importPins(fresh, exported);
  out.restored = await v.pinStates(fresh);
  fresh.close();
  await panicWipe("verify-unit");
  return out;
}"""


def test_pins_follow_the_trust_policy(browsing: Browsing) -> None:
    browsing.goto("/")
    out = browsing.page.evaluate(PIN_LOGIC)
    assert out["first"] == "tofu" and out["same"] == "tofu"
    assert out["changed"] == ["changed", True, True]
    assert out["flipBack"] == ["changed", True] and out["third"] is True
    assert (out["wrongDigits"], out["shortDigits"], out["afterWrong"]) == ("mismatch", "not-a-code", "changed")
    assert (out["otherCode"], out["oldKeyCode"], out["junk"]) == ("other-person", "mismatch", "not-a-code")
    assert out["afterScans"] == "changed"
    assert (out["goodCode"], out["afterGood"]) == ("match", "verified")
    assert out["normalize"] == ["303875254383522" + "0" * 45, None, None]
    assert out["members"] == {"changed": [], "unverified": ["carol"]}
    assert out["meSwapped"] == {"changed": ["me"], "unverified": []}
    assert out["daveChanged"] == {"changed": ["dave"], "unverified": ["dave"]}
    assert out["blocked"] is True and out["notBlockedBob"] is False
    assert out["sticky"] is True, "a room once seen verified-only stays so when the server drops the flag"
    assert out["openRoom"] is False, "a room never seen verified-only warns but does not block"
    assert out["pinsForCommit"] == ["bob", "carol", "dave"]
    assert out["importKeeps"] == "changed"
    assert out["restored"] == {"bob": "verified", "carol": "tofu", "dave": "changed"}


# --- the pages, with two people who share a room -----------------------------------------------------

def _login(server: LiveServer, handle: str, password: str, *, two_factor: bool = False) -> Session:
    session = Session(server.url)
    session.request("GET", "/account/login/")
    page = session.request("POST", "/account/login/", form={"username": handle, "password": password})
    if two_factor:
        assert "otp_token" in page
        session.request("POST", "/account/two-factor/verify/", form={"otp_token": server.totp(handle)})
    return session


def _enroll(session: Session) -> Account:
    """A fresh identity (a new MSK) for the logged-in user, published as their next device list."""
    mine = session.api("GET", "/devices")
    account = Account(user_id=mine["user"])
    if mine["device_list"] is not None:
        account.version = mine["device_list"]["version"]
    session.api("POST", "/devices", account.device_list())
    return account


@pytest.fixture(scope="module")
def coworkers(live_tessera: LiveServer) -> Iterator[dict[str, Any]]:
    """baraka (organizer) and amani (member), enrolled, in one committee room of the Nairobi local."""
    from membership.management.commands.seed_demo import DEMO_PASSWORD

    codes = json.loads(live_tessera.manage("shell", "-c", (
        "import json; from membership.models import Member; m = Member.objects.get(user__handle='amani'); "
        "print(json.dumps({'local': str(m.local.code), 'member': str(m.code)}))")).strip().splitlines()[-1])
    org = _login(live_tessera, ORGANIZER, DEMO_PASSWORD, two_factor=True)
    mem = _login(live_tessera, MEMBER, DEMO_PASSWORD)
    organizer, member = _enroll(org), _enroll(mem)
    room = org.api("POST", "/rooms", {"kind": "committee", "parent": codes["local"], "room_id": new_id16()})
    body, wraps, _es = organizer.make_commit(room["room_id"], [(organizer, "admin")])
    org.api("POST", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps})
    org.api("POST", f"/rooms/{room['code']}/seats", {"member": codes["member"], "seated": True})
    sync_room(org, organizer, room["code"])
    lists = {dl["user"]: ur1.parse_device_list(dl)
             for dl in org.api("GET", f"/rooms/{room['code']}/device-lists")["device_lists"]}
    body, wraps, _es = organizer.make_commit(
        room["room_id"], [(organizer, "admin"), (Peer.from_device_list(lists[member.user_id]), "member")])
    org.api("POST", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps})
    yield {"org": org, "organizer": organizer, "member": member, "room": room, "password": DEMO_PASSWORD}


ENROLL_HERE = """async () => {
  const account = await import("/static/messaging/account.js");
  const store = await account.openStore();
  const { account: me } = await account.enroll(store, account.pageUser(), { reset: true });
  return { user: me.user, mskPub: me.mskPub };
}"""


def _as_member(session: Browsing, people: dict[str, Any]) -> dict[str, Any]:
    """Log amani in and make her keys in this browser with account.js: her identity as
    {"user", "mskPub" (b64u)} and "msk" (bytes), which the pages must show and use."""
    log_in(session, MEMBER, people["password"])
    session.goto("/rooms/devices/")
    me = session.page.evaluate(ENROLL_HERE)
    assert me["user"] == people["member"].user_id
    return {**me, "msk": ur1.b64u_decode(me["mskPub"], 32)}


FAKE_CAMERA = """
window.__scanText = null;
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["qr_code"]; }
  constructor(options) { this.formats = options.formats; }
  async detect(source) {
    if (!(source instanceof HTMLVideoElement) || !source.srcObject) throw new Error("no video");
    return window.__scanText === null ? [] : [{ format: "qr_code", rawValue: window.__scanText }];
  }
};
if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  canvas.getContext("2d").fillRect(0, 0, 64, 64);
  return canvas.captureStream(5);
};
"""

PIN_STATE = """async (user) => {
  const { openStore } = await import("/static/messaging/account.js");
  const { getPin } = await import("/static/messaging/verify.js");
  const store = await openStore();
  const pin = await getPin(store, user);
  store.close();
  return pin && pin.state;
}"""

SEND_BLOCKED = """async ([code, members, me]) => {
  const api = await import("/static/messaging/api.js");
  const { openStore } = await import("/static/messaging/account.js");
  const { isSendBlocked } = await import("/static/messaging/verify.js");
  const store = await openStore();
  const room = await api.get(`/rooms/${code}`);
  const blocked = await isSendBlocked(store, room, members, { me });
  store.close();
  return [room.verified_only, blocked];
}"""


def _digits(element: Any) -> str:
    return str(element.get_attribute("aria-label"))


def test_the_safety_number_page_shows_the_digits_and_a_readable_code(browsing: Browsing,
                                                                     coworkers: dict[str, Any]) -> None:
    member = _as_member(browsing, coworkers)
    browsing.goto("/rooms/safety-number/")
    page = browsing.page
    page.wait_for_selector("[data-safety-number-page][data-ready=yes]")
    digits = page.locator("[data-digits]")
    assert _digits(digits) == ur1.safety_number(member["user"], member["msk"])
    assert re.fullmatch(r"(\d{5} ){11}\d{5}", digits.inner_text().replace("\n", " ").strip())
    png = ARTIFACTS / f"safety-number-qr-{browsing.viewport_name}.png"
    page.locator("[data-qr] svg").screenshot(path=str(png))
    assert zbarimg(png) == ur1.qr_payload(member["user"], member["msk"])
    assert page.locator("[data-qr] svg title").text_content() == "QR code of your safety number"
    browsing.screenshot("safety-number")
    if browsing.viewport_name.startswith("phone"):
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"the page scrolls sideways at 360 px ({width})"


def test_a_page_without_keys_says_so(browsing: Browsing, coworkers: dict[str, Any]) -> None:
    log_in(browsing, MEMBER, coworkers["password"])  # a fresh browser: account.js finds no keys here
    browsing.goto("/rooms/safety-number/")
    browsing.page.get_by_text("This browser has no keys for your account yet").wait_for()
    assert browsing.page.locator("[data-own]").is_hidden()


def test_verifying_a_coworker_by_the_digits_then_after_a_key_change(browsing: Browsing,
                                                                      coworkers: dict[str, Any]) -> None:
    member = _as_member(browsing, coworkers)
    page = browsing.page
    organizer: Account = coworkers["organizer"]
    me = {"user": member["user"], "mskPub": member["mskPub"]}
    browsing.goto("/rooms/verify/")
    page.wait_for_selector("[data-verify-list-page][data-ready=yes]")
    row = page.locator(f"li[data-user='{organizer.user_id}']")
    assert row.locator("a").inner_text() == "Baraka"
    assert row.locator("[data-pin-state]").inner_text() == "Not verified yet"
    browsing.screenshot("verify-list")

    # By keyboard: the link, then the digits field and Enter.
    row.locator("a").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-verify-person-page][data-ready=yes]")
    state = page.locator("[data-verify-person-page] [data-pin-state]")
    assert state.inner_text() == "Not verified yet"
    assert _digits(page.locator("[data-digits]")) == ur1.safety_number(organizer.user_id, organizer.msk)
    assert page.evaluate(PIN_STATE, organizer.user_id) == "tofu"
    field = page.get_by_label("The 60 digits on their screen")
    field.fill("1" * 60)
    field.press("Enter")
    page.get_by_text("It does not match.").wait_for()
    assert page.evaluate(PIN_STATE, organizer.user_id) == "tofu"
    field.fill(ur1.safety_number(organizer.user_id, organizer.msk))
    field.press("Enter")
    page.get_by_text("Verified. The key your browser has").wait_for()
    assert state.inner_text() == "Verified in person"
    assert page.evaluate(PIN_STATE, organizer.user_id) == "verified"
    members = [{"user": organizer.user_id, "msk": ur1.b64u_encode(organizer.msk)}, {**me, "msk": me["mskPub"]}]
    assert page.evaluate(SEND_BLOCKED, [coworkers["room"]["code"], members, me]) == [True, False]

    # The organizer's identity key changes (a new MSK signs his next device list).
    renewed = Account(user_id=organizer.user_id, version=organizer.version)
    coworkers["org"].api("POST", "/devices", renewed.device_list())
    try:
        page.reload()
        page.wait_for_selector("[data-verify-person-page][data-ready=yes]")
        assert state.inner_text() == "Key changed: verify again"
        warning = page.locator("[data-key-warning]")
        assert warning.is_visible() and warning.get_attribute("role") == "alert"
        assert warning.get_by_role("link", name="Baraka").get_attribute("href") == f"/rooms/verify/{organizer.user_id}/"
        browsing.screenshot("verify-key-changed")
        # What a room page does with the component: someone it has no name for, and sending paused.
        shown = page.evaluate("""async (user) => {
          const { showKeyWarning } = await import("/static/messaging/verify.js");
          const section = document.querySelector("[data-key-warning]");
          showKeyWarning(section, [user, "0".repeat(32)], { blocked: true, names: { [user]: "Baraka" } });
          return [...section.querySelectorAll("li a")].map((a) => [a.textContent, a.getAttribute("href")]);
        }""", organizer.user_id)
        assert shown == [["Baraka", f"/rooms/verify/{organizer.user_id}/"],
                         ["A member whose name this page does not show", f"/rooms/verify/{'0' * 32}/"]]
        assert warning.get_by_text("Sending is paused in this room until you verify them again.").is_visible()
        members[0]["msk"] = ur1.b64u_encode(renewed.msk)
        assert page.evaluate(SEND_BLOCKED, [coworkers["room"]["code"], members, me]) == [True, True]
        browsing.goto("/rooms/verify/")
        page.wait_for_selector("[data-verify-list-page][data-ready=yes]")
        assert row.locator("[data-pin-state]").inner_text() == "Key changed: verify again"
        assert page.locator("[data-key-warning]").is_visible()

        # Re-verified with the new digits: sending is allowed again and the warning is gone.
        browsing.goto(f"/rooms/verify/{organizer.user_id}/")
        page.wait_for_selector("[data-verify-person-page][data-ready=yes]")
        field.fill(ur1.safety_number(organizer.user_id, renewed.msk))
        page.get_by_role("button", name="Check the digits").click()
        page.get_by_text("Verified. The key your browser has").wait_for()
        assert page.locator("[data-key-warning]").is_hidden()
        assert page.evaluate(SEND_BLOCKED, [coworkers["room"]["code"], members, me]) == [True, False]
    finally:
        coworkers["organizer"] = renewed


def test_verifying_a_coworker_by_scanning_their_code(browsing: Browsing, coworkers: dict[str, Any]) -> None:
    browsing.page.context.add_init_script(FAKE_CAMERA)
    _as_member(browsing, coworkers)
    page = browsing.page
    organizer: Account = coworkers["organizer"]
    browsing.goto(f"/rooms/verify/{organizer.user_id}/")
    page.wait_for_selector("[data-verify-person-page][data-ready=yes]")
    assert page.evaluate(PIN_STATE, organizer.user_id) == "tofu"
    start = page.get_by_role("button", name="Scan with the camera")

    # A code of the right person under another key: refused, nothing changes.
    page.evaluate("(text) => { window.__scanText = text; }", ur1.qr_payload(organizer.user_id, bytes(range(1, 33))))
    start.click()
    page.get_by_text("It does not match.").wait_for()
    assert page.evaluate(PIN_STATE, organizer.user_id) == "tofu"

    page.evaluate("(text) => { window.__scanText = text; }", ur1.qr_payload(organizer.user_id, organizer.msk))
    start.click()
    page.get_by_text("Verified. The key your browser has").wait_for()
    assert page.evaluate(PIN_STATE, organizer.user_id) == "verified"
    assert page.locator("[data-scan-video]").is_hidden(), "the camera stops once a code is read"

    # On the list page, a code of someone who shares no room with us is refused.
    browsing.goto("/rooms/verify/")
    page.wait_for_selector("[data-verify-list-page][data-ready=yes]")
    page.evaluate("(text) => { window.__scanText = text; }", ur1.qr_payload("f" * 32, bytes(range(1, 33))))
    page.get_by_role("button", name="Scan with the camera").click()
    page.get_by_text("That code belongs to nobody you share a room with.").wait_for()
    assert page.locator("li[data-user] [data-pin-state]").first.inner_text() == "Verified in person"


def test_without_a_barcode_detector_the_digits_remain(browsing: Browsing, coworkers: dict[str, Any]) -> None:
    _as_member(browsing, coworkers)
    organizer: Account = coworkers["organizer"]
    browsing.goto(f"/rooms/verify/{organizer.user_id}/")
    page = browsing.page
    page.wait_for_selector("[data-verify-person-page][data-ready=yes]")
    page.get_by_text("This browser cannot scan codes.").wait_for()
    assert page.get_by_role("button", name="Scan with the camera").count() == 0 or \
        page.get_by_role("button", name="Scan with the camera").is_hidden()
    page.get_by_role("button", name="All 60 digits match").click()
    page.get_by_text("Verified. The key your browser has").wait_for()
    browsing.screenshot("verify-person")
    # The page opened its database through account.js, so a panic wipe closes that handle and the
    # deletion goes through at once (deleteDatabase answers true, not "blocked").
    assert page.evaluate("async () => (await import('/static/messaging/account.js')).wipe()") is True
    assert "ure2e" not in page.evaluate("async () => (await indexedDB.databases()).map((d) => d.name)")
