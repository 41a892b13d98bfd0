"""The chat page's live numbers in Chromium: gaps held and filled, gaps fetched, batch frames.

One room, set up once for the module: the organizer writes from his page; the member's pages get
the server's relayed frames through Playwright, which holds some back and hands them over later,
in another order or wrapped as one batch frame (as messaging.consumers.RoomFanout sends a busy
process's messages). Every request the member's chat page makes for messages over HTTP is watched:
a gap filled on the socket must cost none, a gap that never fills exactly one, after 1 to 2 s
(room.js's GAP_FETCH_MS).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing, LiveServer, log_in, open_browsing
from tests.browser.test_rooms_chat import ENROLL, Sockets, bodies, item, send
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

# Each message item the chat page adds to its log, in the order it adds them (chat.js keeps the log
# sorted by number whatever the arrival order, so the log alone would not show in which order the
# page took the messages in).
RECORD_ADDED = """() => {
  window.testAdded = [];
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.matches && node.matches("li.msg[data-seq]")) {
          window.testAdded.push([Number(node.dataset.seq), (node.querySelector(".body") || {}).textContent || ""]);
        }
      }
    }
  }).observe(document.getElementById("log"), { childList: true });
}"""
GAP_FETCH_S = 1.0  # room.js's GAP_FETCH_MS: a gap is fetched after 1 to 2 times this
SLACK_S = 1.5  # the page's timers and Playwright's relay are not exact (a loaded CI machine: more)


class Gate(Sockets):
    """Room sockets whose relayed `message` frames the test can keep from the page, then hand over.

    The next `hold` message frames (inside a batch too) go to `held` instead of the page; everything
    else reaches the page as the server sent it. `delivered` lists the sequence numbers the page got.
    """

    def __init__(self, page: Any) -> None:
        self.hold = 0
        self.held: list[dict[str, Any]] = []
        self.delivered: list[int] = []
        self.servers: list[Any] = []
        self.pongs = 0
        super().__init__(page)

    def handle(self, ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda message: self.relay(ws, message))
        self.routes.append(ws)
        self.servers.append(server)

    def relay(self, ws: Any, message: str | bytes) -> None:
        frame = json.loads(message)
        if frame.get("type") == "pong":
            self.pongs += 1
        inner = frame["frames"] if frame.get("type") == "batch" else [frame]
        passed = []
        for one in inner:
            if one.get("type") == "message" and self.hold > 0:
                self.hold -= 1
                self.held.append(one)
            else:
                passed.append(one)
        if len(passed) == len(inner):
            ws.send(message)
        else:
            for one in passed:
                ws.send(json.dumps(one))
        self.delivered.extend(one["seq"] for one in passed if one.get("type") == "message")

    def ready(self, page: Any) -> None:
        """Wait until the page's socket is open on the server (it joins its rooms before accepting)."""
        until(page, lambda: bool(self.servers), "the page's room socket")
        before = self.pongs
        self.servers[-1].send(json.dumps({"type": "ping"}))
        until(page, lambda: self.pongs > before, "a pong from the server")


def until(page: Any, done: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Let Playwright deliver events (frames, requests) until `done()`; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        page.wait_for_timeout(20)


@dataclass
class Room:
    code: str
    admin: Browsing
    bea: Browsing
    gate: Gate
    fetches: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, URL) of message fetches

    def say(self, text: str) -> None:
        """The organizer sends `text` and waits for the server's ack."""
        send(self.admin, text)
        expect(item(self.admin, text)).to_have_attribute("data-state", "sent")

    def shown(self, *texts: str) -> list[tuple[int, str]]:
        """(seq, text) of the member's messages among `texts`, in the log's order, each time it is shown."""
        found = self.bea.page.locator("#log li.msg").evaluate_all(
            "els => els.map(e => [Number(e.dataset.seq), (e.querySelector('.body') || {}).textContent || ''])")
        return [(seq, text) for seq, text in found if text in texts]

    def added(self, *texts: str) -> list[tuple[int, str]]:
        """(seq, text) of the member's messages among `texts`, in the order the page added them."""
        found = self.bea.page.evaluate("() => window.testAdded")
        return [(seq, text) for seq, text in found if text in texts]

    def open_gap(self, first: str, second: str) -> tuple[dict[str, Any], int, float]:
        """The admin says `first` then `second`; Bea's page gets second's frame while first's is held:
        returns first's held frame, its number, and when the gap opened (monotonic)."""
        page, gate = self.bea.page, self.gate
        gate.hold = 1
        self.say(first)
        until(page, lambda: len(gate.held) == 1, "the first message's frame")
        [held] = gate.held
        seq = held["seq"]
        self.say(second)
        until(page, lambda: seq + 1 in gate.delivered, "the second message's frame")
        return held, seq, time.monotonic()

    def no_fetch_until(self, since: float, seconds: float) -> None:
        """Let `seconds` pass from `since` (monotonic), then check the page fetched no messages."""
        self.bea.page.wait_for_timeout(max(0.0, since + seconds - time.monotonic()) * 1000)
        assert self.fetches == [], f"the page fetched over HTTP: {self.fetches}"


# An organizer of its own (the demo organizer may have keys from another module already: a first
# use in a fresh browser would answer "exists"), and one member seated on a committee.
SEED = """
import json, secrets
from membership.models import Member, User
from messaging.client import new_id16
from messaging.services import committee_seat_set, room_create
from tests.factories import make_member, make_totp
local = Member.objects.get(user=User.objects.get(handle="baraka")).local
prefix, suffix = "PREFIX", secrets.token_hex(3)
organizer = make_member(local, "organizer", handle=f"{prefix}org{suffix}")
make_totp(organizer)
bea = make_member(local, handle=f"{prefix}bea{suffix}")
room = room_create(actor=organizer, kind="committee", local=local, room_id=new_id16(), retention_days=30,
                   verified_only=True)
committee_seat_set(actor=organizer, room=room, member=Member.objects.get(user=bea), seated=True)
print(json.dumps({"room": str(room.code), "organizer": organizer.handle, "bea": bea.handle}))
"""


def seed(server: LiveServer, prefix: str = "gaps") -> dict[str, str]:
    """A committee of a new organizer and one member, Bea (handles start with `prefix`)."""
    assert prefix.isalpha()
    return json.loads(server.manage("shell", "-c", SEED.replace("PREFIX", prefix)).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def room(browser: Any, live_tessera: LiveServer) -> Iterator[Room]:
    """A started room of the organizer and one member, each on their own chat page."""
    world = seed(live_tessera)
    room_url = f"/rooms/{world['room']}/"
    contexts = []
    try:
        admin_context, admin = open_browsing(browser, live_tessera, "desktop")
        contexts.append(admin_context)
        bea_context, bea = open_browsing(browser, live_tessera, "desktop")
        contexts.append(bea_context)
        log_in(admin, world["organizer"], PASSWORD, two_factor=True)
        log_in(bea, world["bea"], PASSWORD)
        for person in (admin, bea):
            person.goto("/rooms/")
            person.page.evaluate(ENROLL)
        admin.goto(room_url)
        banner = admin.page.get_by_role("region", name="Waiting for a change of keys")
        banner.get_by_role("button", name="Start the room and add them").click()
        expect(admin.page.locator("#rotation-note")).to_contain_text("Done: the room has new keys", timeout=20_000)
        expect(admin.page.locator("#status")).to_have_text("Connected")

        fetches: list[tuple[float, str]] = []
        path = f"/api/messaging/rooms/{world['room']}/messages?after="
        bea.page.on("request", lambda request: fetches.append((time.monotonic(), request.url))
                    if path in request.url else None)
        gate = Gate(bea.page)
        bea.goto(room_url)
        expect(bea.page.locator("#status")).to_have_text("Connected")
        gate.ready(bea.page)
        # The page fetches after its last number twice as it opens: on load, and once the socket is up.
        until(bea.page, lambda: len(fetches) >= 2, "the page's first fetches")
        bea.page.wait_for_load_state("networkidle")
        bea.page.evaluate(RECORD_ADDED)
        yield Room(code=world["room"], admin=admin, bea=bea, gate=gate, fetches=fetches)
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def chat(room: Room) -> Iterator[Room]:
    """The module's room, with nothing held and no fetch seen; fails on the pages' problems after."""
    room.gate.hold = 0
    room.gate.held.clear()
    room.fetches.clear()
    try:
        yield room
        problems = [problem for session in (room.admin, room.bea) for problem in session.watch.problems()]
        assert not problems, "the pages had problems:\n" + "\n".join(problems)
    finally:
        room.gate.hold = 0


def test_a_gap_filled_on_the_socket_costs_no_request(chat: Room) -> None:
    first, second = "Gap on the socket: first", "Gap on the socket: second"
    page, gate = chat.bea.page, chat.gate
    held, seq, opened = chat.open_gap(first, second)  # the page saw seq + 1 before seq: a gap

    # Held beyond the gap: not shown out of order.
    page.wait_for_timeout(300)
    expect(bodies(chat.bea, second)).to_have_count(0)
    gate.inject(held)  # the missing number arrives on the socket, well before GAP_FETCH_MS
    expect(bodies(chat.bea, first)).to_have_count(1)
    expect(bodies(chat.bea, second)).to_have_count(1)
    assert chat.shown(first, second) == [(seq, first), (seq + 1, second)]
    assert chat.added(first, second) == [(seq, first), (seq + 1, second)]
    # The page would have asked by 2 x GAP_FETCH_MS after the gap opened: wait past that.
    chat.no_fetch_until(opened, 2 * GAP_FETCH_S + SLACK_S)
    assert chat.shown(first, second) == [(seq, first), (seq + 1, second)]


def test_a_gap_that_never_fills_is_fetched_after_one_to_two_seconds(chat: Room) -> None:
    lost, after = "Gap never filled: lost", "Gap never filled: after"
    page = chat.bea.page
    held, seq, opened = chat.open_gap(lost, after)

    # Within GAP_FETCH_MS the page waits: nothing fetched, nothing shown out of order.
    page.wait_for_timeout((GAP_FETCH_S - 0.2) * 1000)
    assert chat.fetches == [], f"fetched before {GAP_FETCH_S} s: {chat.fetches}"
    expect(bodies(chat.bea, after)).to_have_count(0)
    until(page, lambda: bool(chat.fetches), "the page's fetch", timeout=2 * GAP_FETCH_S + SLACK_S)
    waited = chat.fetches[0][0] - opened
    assert GAP_FETCH_S - 0.2 <= waited <= 2 * GAP_FETCH_S + SLACK_S, waited
    assert f"after={seq - 1}&" in chat.fetches[0][1], chat.fetches
    expect(bodies(chat.bea, lost)).to_have_count(1)
    expect(bodies(chat.bea, after)).to_have_count(1)
    assert chat.shown(lost, after) == [(seq, lost), (seq + 1, after)]
    assert chat.added(lost, after) == [(seq, lost), (seq + 1, after)]

    # The socket's copy, arriving after all, changes nothing; no second fetch.
    chat.gate.inject(held)
    page.wait_for_timeout(300)
    assert chat.added(lost, after) == [(seq, lost), (seq + 1, after)]
    assert len(chat.fetches) == 1, chat.fetches


def test_a_batch_frame_shows_each_message_once_in_order(chat: Room) -> None:
    texts = [f"In one batch: {n}" for n in range(4)]
    page, gate = chat.bea.page, chat.gate
    gate.hold = 2
    chat.say(texts[0])
    chat.say(texts[1])
    until(page, lambda: len(gate.held) == 2, "two message frames")
    a, b = gate.held
    seq = a["seq"]
    assert b["seq"] == seq + 1
    page.wait_for_timeout(200)
    assert chat.shown(*texts) == []
    gate.inject({"type": "batch", "frames": [a, b]})
    expect(bodies(chat.bea, texts[1])).to_have_count(1)
    expect(bodies(chat.bea, texts[0])).to_have_count(1)
    assert chat.shown(*texts) == [(seq, texts[0]), (seq + 1, texts[1])]
    assert chat.added(*texts) == [(seq, texts[0]), (seq + 1, texts[1])]
    assert chat.fetches == [], chat.fetches

    # A batch whose later number comes first: held inside the batch and filled by the next frame.
    gate.held.clear()
    gate.hold = 2
    chat.say(texts[2])
    chat.say(texts[3])
    until(page, lambda: len(gate.held) == 2, "two more message frames")
    c, d = gate.held
    gate.inject({"type": "batch", "frames": [d, c]})
    injected = time.monotonic()
    expect(bodies(chat.bea, texts[2])).to_have_count(1)
    expect(bodies(chat.bea, texts[3])).to_have_count(1)
    assert chat.shown(*texts) == [(seq + n, text) for n, text in enumerate(texts)]
    assert chat.added(*texts) == [(seq + n, text) for n, text in enumerate(texts)]
    chat.no_fetch_until(injected, 2 * GAP_FETCH_S + SLACK_S)
    assert chat.shown(*texts) == [(seq + n, text) for n, text in enumerate(texts)]


def test_the_rooms_list_counts_each_message_of_a_batch(chat: Room) -> None:
    """rooms.js (/rooms/) counts unread messages from the socket, batch frames included."""
    page = chat.bea.page.context.new_page()
    try:
        gate = Gate(page)
        page.goto(f"{chat.bea.server.url}/rooms/")
        gate.ready(page)
        badge = page.locator(f'#rooms li[data-code="{chat.code}"] .unread')
        before = int(badge.get_attribute("data-count") or 0)
        gate.hold = 2
        chat.say("Counted on the list: one")
        chat.say("Counted on the list: two")
        until(page, lambda: len(gate.held) == 2, "two message frames")
        page.wait_for_timeout(200)
        expect(badge).to_have_attribute("data-count", str(before))
        gate.inject({"type": "batch", "frames": gate.held})
        expect(badge).to_have_attribute("data-count", str(before + 2))
        expect(badge).to_have_text(f"{before + 2} unread")
        expect(page.locator(f'#rooms li[data-code="{chat.code}"]')).to_have_class("room has-unread")
    finally:
        page.close()
