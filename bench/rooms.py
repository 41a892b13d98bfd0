"""One busy room through the real stack, beside a bare WebSocket broadcast server in the same run.

    REDIS_URL=redis://127.0.0.1:6379/0 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/rooms.py [--clients 250] [--rate 10] [--seconds 15] [--repeat 3]

Tessera: two Daphne processes (Tessera's ASGI application: origin check, session cookie,
`RoomConsumer`) on one Redis pub/sub layer and one database (a fresh one on DATABASE_URL's
PostgreSQL server, dropped afterwards, with the connection pool as in production; else a temporary
SQLite file). C members with real sessions, enrolled devices and one signed commit listing them
all, follow one local room with the Python client (`messaging.client.live.RoomLink`), half on
each process. Senders send real UR1 envelopes over their sockets; each is stored with its sequence
number and relayed to every socket in the room.

Baseline: a bare `websockets` broadcast server in its own process (`websockets` is a development
dependency, for this baseline only): no authentication, no database, no Redis, one process. It
answers the sender with an ack and broadcasts each frame, encoded once, to every connected client.
The same clients' code (messaging/client/ws.py) reads both.

Two modes, each for Tessera and then the baseline:
- rate: R messages per second in total, spread over the senders, for S seconds; prints the share
  of (messages x clients) delivered within 10 s of the last send, p50/p95/p99 of the time from
  the send to each client's receipt, and deliveries per second.
- saturation: every client is a sender (`--saturation-senders`, all C by default) and sends its
  next message as soon as the previous one is acknowledged (at most 4 a second each: the rooms'
  per-socket limit is 5), for S seconds: 1,000 messages a second offered to 250 clients, more
  than either server delivers, so each runs at its own limit. Prints deliveries per second
  received during those seconds and the ratio to the baseline.

Envelopes are sealed before the clock starts (the client's CPU, one Python process reading every
socket, must not be the bottleneck of what is measured), as a client seals before sending anyway.
The processes' memory is their resident set (VmRSS, and the peak VmHWM) from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DRAIN_SECONDS = 10.0
PER_SENDER_INTERVAL = 0.25  # the rooms allow 5 frames a second per socket


# ------------------------------------------------------------------------------------------
# The bare broadcast server (run as `bench/rooms.py --serve-bare PORT`).
# ------------------------------------------------------------------------------------------

async def serve_bare(port: int) -> None:
    """The issue's baseline: a bare `websockets` server that acks the sender and broadcasts each frame,
    encoded once, with `websockets.broadcast` (buffered writes, no await per client)."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set[ServerConnection] = set()
    seq = 0

    async def handle(ws: ServerConnection) -> None:
        nonlocal seq
        clients.add(ws)
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame.get("type") != "send":
                    continue
                seq += 1
                await ws.send(json.dumps({"type": "ack", "ref": frame["ref"], "room": frame["room"], "seq": seq}))
                broadcast(clients, json.dumps({"type": "message", "room": frame["room"], "seq": seq,
                                               "envelope": frame["envelope"]}))
        except ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    async with serve(handle, HOST, port, backlog=1024, max_size=2**20, compression=None,
                     ping_interval=None) as server:
        await server.serve_forever()


# ------------------------------------------------------------------------------------------
# Measurement.
# ------------------------------------------------------------------------------------------

class Tally:
    """Latencies of first receipts, keyed by the envelope's nonce."""

    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.received_at: list[float] = []
        self.acks: list[float] = []  # from the send to the sender's acknowledgement (stored)

    def received(self, nonce: str) -> None:
        now = time.perf_counter()
        sent = self.sent_at.get(nonce)
        if sent is not None:
            self.latencies.append(now - sent)
            self.received_at.append(now)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return float("nan"), float("nan"), float("nan")
    cuts = statistics.quantiles([v * 1000 for v in values], n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class Side:
    """What a mode needs of a server: connect C clients, send an envelope from client i."""

    name = ""

    async def open(self, tally: Tally) -> None:
        raise NotImplementedError

    async def send(self, i: int, envelope: dict[str, Any]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        raise NotImplementedError


class TesseraSide(Side):
    name = "Tessera (2 Daphne + Redis)"

    def __init__(self, world: dict[str, Any], ports: list[int], processes: list[Any]) -> None:
        self.world, self.ports, self.processes = world, ports, processes
        self.links: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, tally: Tally) -> None:
        from messaging.client.http import Session
        from messaging.client.live import Delivered, RoomLink

        world = self.world
        urls = [f"http://{HOST}:{port}" for port in self.ports]
        self.links = []
        for i, (cookie, account) in enumerate(zip(world["cookies"], world["accounts"], strict=True)):
            order = urls[i % 2:] + urls[:i % 2]  # half on each process, the other as the fallback
            sessions = [Session(url, [{"name": world["cookie_name"], "value": cookie, "domain": HOST, "path": "/",
                                       "secure": False}]) for url in order]

            def seen(item: Delivered) -> None:
                tally.received(item.envelope.get("n", ""))

            # One client opens every message (the envelopes are genuine); the others only count.
            # Clients that hold the history already: they catch up from the room's last number.
            self.links.append(RoomLink(account, world["room_id"], world["code"], sessions, decrypt=i == 0, keep=False,
                                       on_message=seen, poll_seconds=30.0, ack_timeout=30.0, after=world["after"]))
        for start in range(0, len(self.links), 25):
            self.tasks += [asyncio.ensure_future(link.run()) for link in self.links[start:start + 25]]
            await asyncio.sleep(0.2)
        deadline = time.monotonic() + 120
        while not all(link._connected.is_set() for link in self.links):
            for task in self.tasks:
                if task.done():
                    task.result()  # raises what ended it
            if time.monotonic() > deadline:
                raise RuntimeError("Tessera's clients did not all connect")
            await asyncio.sleep(0.1)
        for link in self.links:  # count from the measurement's start, not the connections' catch-up
            link.fetches = link.frames = 0

    async def send(self, i: int, envelope: dict[str, Any]) -> None:
        await self.links[i].send_sealed(envelope)

    def counters(self) -> str:
        fetches = sum(link.fetches for link in self.links)
        frames = sum(link.frames for link in self.links)
        return f"clients' HTTP catch-up pages {fetches}, socket frames read {frames:,}"

    async def close(self) -> None:
        for link in self.links:
            await link.stop()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks = []

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


class BareSide(Side):
    name = "bare broadcast server (1 process)"

    def __init__(self, port: int, process: Any, clients: int) -> None:
        self.port, self.process, self.clients = port, process, clients
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.acks: dict[str, asyncio.Future[int]] = {}

    async def open(self, tally: Tally) -> None:
        from messaging.client.ws import Closed, WebSocket

        async def read(ws: WebSocket) -> None:
            with contextlib.suppress(Closed):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "message":
                        tally.received(frame["envelope"].get("n", ""))
                    elif frame["type"] == "ack" and frame["ref"] in self.acks:
                        self.acks.pop(frame["ref"]).set_result(frame["seq"])

        url = f"ws://{HOST}:{self.port}/"
        self.sockets = []
        for start in range(0, self.clients, 25):
            self.sockets += await asyncio.gather(*(WebSocket.connect(url, origin=f"http://{HOST}:{self.port}")
                                                   for _ in range(start, min(self.clients, start + 25))))
        self.readers = [asyncio.ensure_future(read(ws)) for ws in self.sockets]

    async def send(self, i: int, envelope: dict[str, Any]) -> None:
        ref = os.urandom(6).hex()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.acks[ref] = future
        await self.sockets[i].send(json.dumps({"type": "send", "room": "bench", "ref": ref, "envelope": envelope},
                                              separators=(",", ":")))
        await future

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.readers:
            task.cancel()
        await asyncio.sleep(0.2)

    def pids(self) -> list[int]:
        return [self.process.pid]


async def run_mode(side: Side, mode: str, envelopes: list[list[dict[str, Any]]], rate: float, seconds: float,
                   clients: int) -> dict[str, Any]:
    """One measurement: returns delivered share, latencies, deliveries per second, memory."""
    tally = Tally()
    await side.open(tally)
    print(f"  {clients} clients connected to {side.name}; measuring {mode}", flush=True)
    senders = len(envelopes)
    sent = 0
    tasks: list[asyncio.Future[None]] = []
    started = time.perf_counter()
    stop_at = started + seconds

    async def one(i: int, envelope: dict[str, Any]) -> None:
        tally.sent_at[envelope["n"]] = began = time.perf_counter()
        await side.send(i, envelope)
        tally.acks.append(time.perf_counter() - began)

    if mode == "rate":
        total = int(rate * seconds)
        for k in range(total):
            await asyncio.sleep(max(0.0, started + k / rate - time.perf_counter()))
            tasks.append(asyncio.ensure_future(one(k % senders, envelopes[k % senders][k // senders])))
        sent = total
    else:
        async def loop(i: int) -> int:
            n = 0
            while time.perf_counter() < stop_at and n < len(envelopes[i]):
                began = time.perf_counter()
                await one(i, envelopes[i][n])
                n += 1
                await asyncio.sleep(max(0.0, began + PER_SENDER_INTERVAL - time.perf_counter()))
            return n

        counts = await asyncio.gather(*(loop(i) for i in range(senders)))
        sent = sum(counts)
    sending_ended = time.perf_counter()
    await asyncio.gather(*tasks)
    expected = sent * clients
    deadline = time.perf_counter() + DRAIN_SECONDS
    while len(tally.latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    rss = [memory(pid) for pid in side.pids()]
    if hasattr(side, "counters"):
        print(f"  {side.counters()}", flush=True)
    await side.close()
    window_end = sending_ended if mode == "saturation" else max(tally.received_at, default=sending_ended)
    in_window = sum(1 for t in tally.received_at if t <= window_end)
    p50, p95, p99 = percentiles(tally.latencies)
    return {"ack p50": percentiles(tally.acks)[0], "ack p95": percentiles(tally.acks)[1], "sent": sent, "delivered": 100 * len(tally.latencies) / max(expected, 1), "p50": p50, "p95": p95,
            "p99": p99, "per_second": in_window / max(window_end - started, 1e-9),
            "rss": sum(r for r, _h in rss), "hwm": max((h for _r, h in rss), default=0.0)}


# ------------------------------------------------------------------------------------------
# Data.
# ------------------------------------------------------------------------------------------

def seed(clients: int, senders: int) -> dict[str, Any]:
    """C members with sessions and devices in one local room, its genesis commit landed; the first
    `senders` accounts (and the first, which opens what it receives) hold the epoch secret."""
    from django.conf import settings

    from bench.realtime import seed as seed_members
    from membership.models import Member, User
    from messaging import ur1
    from messaging.client import Account, new_id16
    from messaging.models import Room
    from messaging.selectors import ur1_user_id
    from messaging.services import commit_post, device_list_publish, room_create

    user_ids, cookies = seed_members(clients)
    users = list(User.objects.filter(pk__in=user_ids).order_by("pk"))
    accounts = [Account(user_id=ur1_user_id(u)) for u in users]
    bodies = {}
    for user, account in zip(users, accounts, strict=True):
        bodies[account.user_id] = account.device_list()
        device_list_publish(actor=user, body=bodies[account.user_id])
    local = Member.objects.get(user=users[0]).local
    room = room_create(actor=users[0], kind=Room.Kind.LOCAL, local=local, room_id=new_id16(), retention_days=90,
                       verified_only=True)
    body, wraps, _es = accounts[0].make_commit(room.room_id, [(a, "admin" if n == 0 else "member")
                                                              for n, a in enumerate(accounts)])
    commit_post(actor=users[0], room=room, body=body, wraps=wraps)
    lists = {uid: [ur1.parse_device_list(b)] for uid, b in bodies.items()}
    by_device = {w["to_device"]: w for w in wraps}
    for account in accounts[:senders]:
        account.catch_up(room.room_id, [body], lists)
        account.take_wrap(room.room_id, by_device[account.device_id])
    return {"cookies": [c.split("=", 1)[1] for c in cookies], "accounts": accounts, "room_id": room.room_id, "code": str(room.code),
            "cookie_name": settings.SESSION_COOKIE_NAME}


def seal_batch(world: dict[str, Any], senders: int, count: int) -> list[list[dict[str, Any]]]:
    """`count` envelopes per sender, sealed before a measurement starts (each counter used once)."""
    return [[account.seal(world["room_id"], {"type": "text", "text": f"bench message {k}", "ts": 0})
             for k in range(count)] for account in world["accounts"][:senders]]


def start_profiled(env: dict[str, str], output: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A Daphne under cProfile (its statistics are written when it is stopped)."""
    from bench.realtime import free_port

    output.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "cProfile", "-o", str(output), "-m", "daphne", "-v", "0", "-b", HOST, "-p", str(port),
         "union.asgi:application"], cwd=ROOT, start_new_session=True,
        env={**env, "PYTHONPATH": str(ROOT), "TESSERA_SITE_URL": f"http://{HOST}:{port}"})
    import socket

    for _ in range(600):
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return process, port
        time.sleep(0.1)
    raise RuntimeError("daphne did not start")


def start_bare() -> tuple[subprocess.Popen[bytes], int]:
    from bench.realtime import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port)], cwd=ROOT,  # noqa: S603
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    import socket

    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return process, port
        time.sleep(0.1)
    raise RuntimeError("the bare server did not start")


def row(label: str, r: dict[str, Any], ratio: str = "") -> str:
    return (f"| {label} | {r['sent']} | {r['delivered']:.1f}% | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} "
            f"| {r['per_second']:,.0f} | {r['ack p50']:.0f} / {r['ack p95']:.0f} | {r['rss']:.0f} ({r['hwm']:.0f}) "
            f"| {ratio} |")


def median_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=250)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second in total (rate mode)")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--senders", type=int, default=25, help="clients that send in rate mode")
    parser.add_argument("--saturation-senders", type=int, help="clients that send in saturation mode (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each mode this many times; print medians")
    parser.add_argument("--modes", default="rate,saturation")
    parser.add_argument("--no-pool", action="store_true", help="PostgreSQL: CONN_MAX_AGE=60 instead of the pool")
    parser.add_argument("--profile", type=Path, help="write each Daphne's cProfile statistics into this directory")
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        sys.path.insert(0, str(ROOT))
        asyncio.run(serve_bare(args.serve_bare))
        return
    if not os.environ.get("REDIS_URL"):
        print("skipped: bench/rooms.py measures two processes on the Redis pub/sub layer; set REDIS_URL")
        return
    senders = min(args.senders, args.clients)
    if args.rate / senders > 1 / PER_SENDER_INTERVAL:
        parser.error("more senders are needed for this rate (each socket may send 5 frames a second)")
    saturating = min(args.saturation_senders or args.clients, args.clients)
    modes = args.modes.split(",")
    # Envelopes per sender: enough for the rate, or for sending every 0.25 s for the whole run.
    per_sender = {"rate": int(args.rate * args.seconds / senders) + 2,
                  "saturation": int(args.seconds / PER_SENDER_INTERVAL) + 2}
    sys.path.insert(0, str(ROOT))
    from bench.realtime import fresh_database, start_daphne, stop

    database_url, drop_database = fresh_database()
    postgres = database_url.startswith("postgres")
    pool = postgres and not args.no_pool
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "union.settings", "DATABASE_URL": database_url, "TESSERA_DEBUG": "0",
        "TESSERA_REDIS_PREFIX": f"bench-rooms-{os.getpid()}", "TESSERA_LOG_LEVEL": "ERROR",
        "TESSERA_DB_POOL": "1" if pool else "0", "TESSERA_DB_CONN_MAX_AGE": "0" if pool else "60",
    })
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from messaging.models import Room

    processes: list[subprocess.Popen[bytes]] = []
    try:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; seeding {args.clients} members ...",
              flush=True)
        call_command("migrate", verbosity=0)
        seeding = time.perf_counter()
        world = seed(args.clients, max(senders if "rate" in modes else 0,
                                       saturating if "saturation" in modes else 0))
        print(f"seeded in {time.perf_counter() - seeding:.0f} s", flush=True)
        connections.close_all()
        env = dict(os.environ)
        if args.profile:
            daphnes = [start_profiled(env, args.profile / f"daphne-{n}.prof") for n in range(2)]
        else:
            daphnes = [start_daphne(ROOT, "union.asgi:application", env, str(ROOT)) for _ in range(2)]
        processes += [p for p, _port in daphnes]
        bare, bare_port = start_bare()
        processes.append(bare)
        tessera = TesseraSide(world, [port for _p, port in daphnes], [p for p, _port in daphnes])
        baseline = BareSide(bare_port, bare, args.clients)
        db = f"PostgreSQL ({'pool' if pool else 'CONN_MAX_AGE=60'})" if postgres else "SQLite"
        print(f"{args.clients} clients in one room; Tessera on 2 Daphne + Redis pub/sub + {db}; "
              f"{senders} senders at {args.rate:g}/s, {saturating} at saturation; {args.seconds:g} s per measurement; "
              "envelopes sealed beforehand", flush=True)
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for round_ in range(args.repeat):
            for mode in modes:
                for side in (tessera, baseline):
                    batch = seal_batch(world, senders if mode == "rate" else saturating, per_sender[mode])
                    world["after"] = Room.objects.get(room_id=world["room_id"]).last_seq
                    result = asyncio.run(run_mode(side, mode, batch, args.rate, args.seconds, args.clients))
                    results.setdefault((mode, side.name), []).append(result)
                    print(f"round {round_ + 1} {mode:<10} {side.name}: {row('', result)}", flush=True)
        print()
        print("| mode | server | messages | delivered | p50 ms | p95 ms | p99 ms | deliveries/s | ack p50 / p95 ms "
              "| RSS MiB (peak) | vs bare |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for mode in modes:
            ours, base = median_of(results[(mode, tessera.name)]), median_of(results[(mode, baseline.name)])
            label = f"{mode} ({args.rate:g}/s)" if mode == "rate" else f"{mode} ({saturating} senders)"
            print(row(f"{label} | {baseline.name}", base))
            ratio = f"{ours['per_second'] / base['per_second']:.2f}x deliveries/s" if base["per_second"] else ""
            print(row(f"{label} | {tessera.name}", ours, ratio))
        if args.repeat > 1:
            print(f"\n(medians of {args.repeat} rounds)")
    finally:
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            stop(process)
        connections.close_all()
        drop_database()


if __name__ == "__main__":
    main()
