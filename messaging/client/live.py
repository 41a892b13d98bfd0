"""One room followed live: the rooms' WebSocket for speed, sequence numbers over HTTP for truth.

Every message the server relays was committed first with the room's next sequence number, so the
socket is only a fast path: `RoomLink` delivers each sequence number exactly once and in order,
whatever the socket does.

- Live messages are delivered when they extend the last delivered number; a duplicate (a resend,
  the same message live and from a catch-up) is dropped; one that leaves a gap waits while the
  gap is fetched over HTTP (`GET /rooms/{code}/messages?after=N`).
- After every (re)connect, and every `poll_seconds` while connected, the link fetches everything
  after its last number: a relay lost while the socket stayed up (Redis restarting under the
  server) is found there.
- A dropped socket is reopened after a jittered exponential backoff ("full jitter": a random
  delay up to base x 2^attempt, capped), so that the clients of a restarted server do not all come
  back in the same instant. A server that cannot be reached is left for the next one in the list
  (several Daphne processes behind one name, or one list of addresses).
- A send is sealed once and repeated until acknowledged. Before repeating, the link catches up:
  if the first try was stored after all, the catch-up finds the very envelope and that is the
  answer (the server refuses the same counter twice anyway).

The server ending the session (4001, 4401) stops the link: retrying cannot help.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from messaging import ur1
from messaging.client import Account
from messaging.client.http import ClientError, Session
from messaging.client.ws import Closed, HandshakeError, WebSocket

logger = logging.getLogger(__name__)

PATH = "/ws/rooms/?batch=1"  # this client reads batch frames (messaging/consumers.py, RoomFanout)
PAGE = 200  # the API's largest page
STOP_CODES = frozenset({4001, 4401})  # session ended, or never valid: log in again


class SessionEnded(ClientError):
    """The server closed the socket for good (the session ended or was never valid)."""


@dataclass(frozen=True)
class Delivered:
    seq: int
    user: str | None  # the sender's protocol id, None when this device could not open it
    body: bytes | None
    via: str  # how its first copy came: "live" (relayed on the socket), "ack" (our own) or "fetch" (HTTP)
    envelope: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass
class _Send:
    envelope: dict[str, Any]
    future: asyncio.Future[int]


class RoomLink:
    """Follow one room the account is in (its commit accepted and its epoch secret opened)."""

    def __init__(self, account: Account, room_id: str, code: str, servers: list[Session], *,
                 after: int = 0, decrypt: bool = True, keep: bool = True,
                 on_message: Callable[[Delivered], None] | None = None,
                 backoff_base: float = 0.2, backoff_cap: float = 8.0, poll_seconds: float = 30.0,
                 ack_timeout: float = 10.0, gap_seconds: float = 1.0, rng: random.Random | None = None) -> None:
        if not servers:
            raise ValueError("at least one server")
        self.account, self.room_id, self.code, self.servers = account, room_id, code, servers
        self.decrypt, self.keep, self.on_message = decrypt, keep, on_message
        self.backoff_base, self.backoff_cap, self.poll_seconds = backoff_base, backoff_cap, poll_seconds
        self.ack_timeout = ack_timeout
        self.gap_seconds = gap_seconds
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.last_seq = after
        self.delivered: list[Delivered] = []  # in order (unless `keep` is False: a benchmark counts instead)
        self.count = 0
        self.duplicates = 0  # live or fetched copies of numbers already delivered (dropped)
        self.connects = 0
        self.fetches = 0  # pages asked over HTTP (catch-ups)
        self.frames = 0  # socket frames read (a batch is one)
        self.server = 0  # index of the server in use
        self._pending: dict[int, tuple[dict[str, Any], str]] = {}  # beyond a gap, waiting for it to fill
        self._sends: dict[str, _Send] = {}  # ref -> a send not acknowledged yet
        self._ws: WebSocket | None = None
        self._connected = asyncio.Event()
        self._catching_up = asyncio.Lock()
        self._gap_task: asyncio.Task[None] | None = None
        self._stopped = False

    # --- delivery --------------------------------------------------------------------------------

    def _offer(self, seq: int, envelope: dict[str, Any], via: str) -> None:
        """One copy of message `seq`, from the socket, an ack or a catch-up."""
        if seq <= self.last_seq or seq in self._pending:
            self.duplicates += 1
            return
        if seq == self.last_seq + 1 and not self._pending:  # the common case: next in line
            self.last_seq = seq
            self._deliver(seq, envelope, via)
            return
        self._pending[seq] = (envelope, via)
        while self.last_seq + 1 in self._pending:
            self.last_seq += 1
            self._deliver(self.last_seq, *self._pending.pop(self.last_seq))
        if self._pending and (self._gap_task is None or self._gap_task.done()):
            self._gap_task = asyncio.ensure_future(self._fill_gap())

    def _deliver(self, seq: int, envelope: dict[str, Any], via: str) -> None:
        if self._sends:
            for ref, send in list(self._sends.items()):
                if send.envelope == envelope:  # our own, stored: whatever became of the ack, this is its number
                    self._sends.pop(ref)
                    if not send.future.done():
                        send.future.set_result(seq)
        user: str | None = None
        body: bytes | None = None
        if self.decrypt:
            try:
                opened = self.account.open(self.room_id, envelope)
                user, body = opened.user, opened.body
            except (ur1.UR1Error, KeyError):
                logger.info("Message %d cannot be opened on this device.", seq)
        item = Delivered(seq=seq, user=user, body=body, via=via, envelope=envelope)
        self.count += 1
        if self.keep:
            self.delivered.append(item)
        if self.on_message is not None:
            self.on_message(item)

    async def _fill_gap(self) -> None:
        # The missing one is almost always just behind, on the socket (two server processes relay
        # in the order each stored, which is not always the numbers' order). Every client of the
        # room sees the same gap: waiting, with jitter, keeps them from all asking the server at once.
        # In a busy room a new gap often opens while an older one fills: what is asked over HTTP
        # is a gap that outlived its wait, not the mere presence of some gap.
        while self._pending:
            waiting_for = self.last_seq + 1
            await asyncio.sleep(self.gap_seconds * self.rng.uniform(1.0, 2.0))
            if self._pending and self.last_seq < waiting_for:
                with contextlib.suppress(OSError, ClientError):  # the poll or the reconnect tries again
                    await self.catch_up()
                return

    async def catch_up(self) -> None:
        """Fetch and deliver everything after the last delivered number, page by page."""
        async with self._catching_up:
            while True:
                session = self.servers[self.server]
                self.fetches += 1
                page = await asyncio.to_thread(
                    session.api, "GET", f"/rooms/{self.code}/messages?after={self.last_seq}&limit={PAGE}")
                for item in page["messages"]:
                    self._offer(item["seq"], item["envelope"], "fetch")
                if len(page["messages"]) < PAGE:
                    return

    # --- the socket ----------------------------------------------------------------------------

    def _url(self, session: Session) -> str:
        return ("ws" + session.server[4:] if session.server.startswith("http") else session.server) + PATH

    def _cookie(self, session: Session) -> str:
        return "; ".join(f"{c['name']}={c['value']}" for c in session.cookies())

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniformly random up to base x 2^attempt, capped."""
        return self.rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))

    async def run(self) -> None:
        """Keep the room followed until `stop()`; raises SessionEnded when the server says so."""
        attempt = 0
        while not self._stopped:
            session = self.servers[self.server]
            try:
                self._ws = await WebSocket.connect(self._url(session), origin=session.server,
                                                   cookie=self._cookie(session))
            except (OSError, HandshakeError, TimeoutError):
                self.server = (self.server + 1) % len(self.servers)  # try the next one
                await asyncio.sleep(self.backoff(attempt))
                attempt += 1
                continue
            self.connects += 1
            code = await self._serve(self._ws)
            self._connected.clear()
            if code in STOP_CODES:
                self._fail_sends(SessionEnded(f"the server ended the session ({code})"))
                raise SessionEnded(f"the server ended the session ({code})")
            if self._stopped:
                return
            attempt = 0 if code == 4003 else attempt + 1  # 4003: rights changed, reconnect at once
            await asyncio.sleep(self.backoff(attempt) if attempt else 0)

    async def _serve(self, ws: WebSocket) -> int:
        """Read the socket until it closes; returns the close code."""
        reader = asyncio.ensure_future(self._read(ws))
        poller = asyncio.ensure_future(self._poll())
        try:
            # The server joins the room's group before it accepts: from here nothing relayed is
            # missed, so what the catch-up returns and what the socket brings overlap, never gap.
            await self.catch_up()
            self._connected.set()
            for ref, send in list(self._sends.items()):
                await self._transmit(ws, ref, send.envelope)
            return await reader
        except Closed as closed:
            return closed.code
        except (OSError, ClientError):  # the catch-up failed: this server is in trouble
            await ws.close(1001)
            return await reader
        finally:
            poller.cancel()
            if not reader.done():
                reader.cancel()

    async def _read(self, ws: WebSocket) -> int:
        while True:
            try:
                frame = json.loads(await ws.recv())
            except Closed as closed:
                return closed.code
            except ValueError:
                continue
            if not isinstance(frame, dict):
                continue
            self.frames += 1
            if frame.get("type") == "batch" and isinstance(frame.get("frames"), list):
                for one in frame["frames"]:  # a busy server's messages of one room, in order
                    if isinstance(one, dict):
                        self._frame(one)
            else:
                self._frame(frame)

    def _frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message" and frame.get("room") == self.code:
            self._offer(int(frame["seq"]), frame["envelope"], "live")
        elif kind == "ack" and frame.get("ref") in self._sends:
            send = self._sends[frame["ref"]]
            self._offer(int(frame["seq"]), send.envelope, "ack")
        elif kind == "error" and frame.get("ref") in self._sends:
            # Refused: perhaps because the first try was stored after all. A catch-up tells.
            asyncio.ensure_future(self._settle(frame["ref"], str(frame.get("detail", ""))))

    async def _settle(self, ref: str, detail: str) -> None:
        with contextlib.suppress(OSError, ClientError):
            await self.catch_up()
        send = self._sends.pop(ref, None)
        if send is not None and not send.future.done():
            send.future.set_exception(ClientError(detail))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds * self.rng.uniform(0.8, 1.2))
            with contextlib.suppress(OSError, ClientError):
                await self.catch_up()

    async def _transmit(self, ws: WebSocket, ref: str, envelope: dict[str, Any]) -> None:
        await ws.send(json.dumps({"type": "send", "room": self.code, "ref": ref, "envelope": envelope},
                                 separators=(",", ":")))

    # --- sending ---------------------------------------------------------------------------------

    async def send(self, body: dict[str, Any]) -> int:
        """Seal `body` once and send it until the server has stored it; returns its number."""
        envelope = self.account.seal(self.room_id, body)
        return await self.send_sealed(envelope)

    async def send_sealed(self, envelope: dict[str, Any]) -> int:
        """Send an envelope sealed beforehand (a benchmark seals ahead of time)."""
        ref = ur1.b64u_encode(os.urandom(9))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._sends[ref] = _Send(envelope, future)
        ws = self._ws
        if ws is not None and self._connected.is_set():
            with contextlib.suppress(Closed):  # else the reconnect sends it, after its catch-up
                await self._transmit(ws, ref, envelope)
        while not future.done():
            try:
                await asyncio.wait_for(asyncio.shield(future), self.ack_timeout)
            except TimeoutError:
                ws = self._ws
                if ws is not None and self._connected.is_set():
                    await ws.close(1001)  # no answer on a socket that looks open: treat it as dead
        return future.result()

    def _fail_sends(self, error: Exception) -> None:
        for send in self._sends.values():
            if not send.future.done():
                send.future.set_exception(error)
        self._sends.clear()

    async def stop(self) -> None:
        self._stopped = True
        if self._ws is not None:
            await self._ws.close()
