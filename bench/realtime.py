"""Notification latency through the real stack, beside a bare Channels consumer on the same layer.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/realtime.py [100 250 500]
    # add DATABASE_URL=postgres://... to run it on PostgreSQL (a fresh database, dropped after)

Two Daphne processes run side by side on one Redis pub/sub channel layer: Tessera's own ASGI
application (origin check, session cookie, `NotificationConsumer` with its session and 2FA hooks)
and a bare application whose consumer joins a group and forwards what it gets, nothing else.
For each number of clients, the script opens that many WebSockets to each server (Tessera's with
the session cookie of a distinct member), lets the sockets settle past one re-check window, then
sends one notification to each client (after one uncounted warm-up), in one burst through `notify_users` (Tessera) or the same
`broadcast_many_now` (bare), three rounds. It prints p50/p95/p99 of the time from the start of the
burst to each client's receipt, the share delivered within 10 s, and the ratio of Tessera's p95 to
the bare consumer's (target: under 3x).

On PostgreSQL it also reads `pg_stat_database.sessions` (PostgreSQL 14+): how many database
connections Tessera's Daphne opened while the clients connected, and while notifications were
delivered. Before this change it opened one per delivery; now deliveries read nothing from the
database, and the periodic session re-checks reuse the one kept connection (CONN_MAX_AGE).

Options: --tessera-root DIR serves another checkout (e.g. an older commit, to compare),
--pool (PostgreSQL: the connection pool, production's default there) or --conn-max-age N
(persistent connections instead, default 60), --recheck N (TESSERA_WS_RECHECK_SECONDS, default 5).
The clients are a minimal WebSocket reader in this file (no client library is a dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from asgiref.sync import sync_to_async

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ROUNDS = 3
DELIVERY_TIMEOUT = 10.0
CONNECT_BATCH = 10


# ------------------------------------------------------------------------------------------
# The bare application (Daphne imports this module as `realtime:bare_application`).
# ------------------------------------------------------------------------------------------

def _bare_application() -> Any:
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class BareConsumer(AsyncWebsocketConsumer):
        """Joins one group and forwards its events: the least a Channels consumer can do."""

        async def connect(self) -> None:
            self.group = f"bare.{self.scope['url_route']['kwargs']['n']}"
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.accept()

        async def disconnect(self, code: int) -> None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

        async def notify_message(self, event: dict[str, Any]) -> None:
            await self.send(text_data=json.dumps({"type": "notify", "kind": event.get("kind", ""),
                                                  "text": event.get("text", ""), "url": event.get("url", "")}))

    # Channels' URLRouter takes Django's path() with an ASGI app; django-stubs types path() for views.
    routes: list[Any] = [path("bare/<int:n>/", BareConsumer.as_asgi())]  # type: ignore[arg-type]
    return ProtocolTypeRouter({"websocket": URLRouter(routes)})


# ------------------------------------------------------------------------------------------
# A minimal WebSocket client: handshake, read frames, answer pings.
# ------------------------------------------------------------------------------------------

class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.inbox: asyncio.Queue[float] = asyncio.Queue()
        self.close_code: int | None = None
        self.pump = asyncio.ensure_future(self._pump())

    @classmethod
    async def open(cls, port: int, path: str, cookie: str = "") -> Client:
        reader, writer = await asyncio.open_connection(HOST, port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", f"Origin: http://{HOST}:{port}"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        return cls(reader, writer)

    async def _pump(self) -> None:
        try:
            while True:
                first, second = await self.reader.readexactly(2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", await self.reader.readexactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
                payload = await self.reader.readexactly(length)
                if opcode == 0x1:
                    self.inbox.put_nowait(time.perf_counter())
                elif opcode == 0x8:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    return
                elif opcode == 0x9:
                    self._send(0xA, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close_code = self.close_code or 1006

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    async def close(self) -> None:
        if self.close_code is None:
            self._send(0x8, struct.pack("!H", 1000))
        self.pump.cancel()
        self.writer.close()


async def open_all(port: int, paths: list[str], cookies: list[str]) -> tuple[list[Client], float]:
    started = time.perf_counter()
    clients: list[Client] = []
    for start in range(0, len(paths), CONNECT_BATCH):
        batch = zip(paths[start:start + CONNECT_BATCH], cookies[start:start + CONNECT_BATCH], strict=True)
        clients += await asyncio.gather(*(Client.open(port, path, cookie) for path, cookie in batch))
    return clients, time.perf_counter() - started


async def burst(clients: list[Client], send: Callable[[], None]) -> list[float | None]:
    """Latency of one message to each client, from the start of the send, or None if not delivered."""
    started = time.perf_counter()
    # From a worker thread, as a service after commit runs it; asgiref runs the sends on this loop,
    # as it runs them on Daphne's loop when a view sends, so the layer's connection is reused.
    await sync_to_async(send, thread_sensitive=False)()
    deadline = started + DELIVERY_TIMEOUT

    async def one(client: Client) -> float | None:
        try:
            received = await asyncio.wait_for(client.inbox.get(), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            return None
        return received - started

    return await asyncio.gather(*(one(client) for client in clients))


# ------------------------------------------------------------------------------------------
# Servers and data.
# ------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_daphne(cwd: Path, app: str, env: dict[str, str], pythonpath: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-daphne-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "daphne", "-v", "0", "-b", HOST, "-p", str(port), app],
        # The origin check compares scheme, host and port with the site's address: this one.
        cwd=cwd, env={**env, "PYTHONPATH": pythonpath, "PORT": str(port), "TESSERA_SITE_URL": f"http://{HOST}:{port}"},
        stdout=log, stderr=log, start_new_session=True,
    )
    print(f"daphne {app} on port {port}, log in {log.name}", flush=True)
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"daphne {app} exited: {Path(log.name).read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return process, port
        time.sleep(0.1)
    raise RuntimeError(f"daphne {app} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def fresh_database() -> tuple[str, Callable[[], None]]:
    """A new, empty database: a temporary SQLite file, or a new database on DATABASE_URL's server."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        directory = tempfile.mkdtemp(prefix="bench-realtime-")
        return f"sqlite:///{directory}/db.sqlite3", lambda: shutil.rmtree(directory, ignore_errors=True)
    import psycopg

    name = f"bench_realtime_{os.getpid()}"
    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def seed(count: int) -> tuple[list[int], list[str]]:
    """`count` members of one local, each with a logged-in session; returns user ids and cookies."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from membership.models import Local, Member, RoleGrant, Union, User

    union = Union.objects.create(name="Bench union", slug=f"bench-{uuid.uuid4().hex[:8]}")
    local = Local.objects.create(union=union, name="Bench local", slug="bench")
    users = User.objects.bulk_create([User(handle=f"bench{n}", password="!") for n in range(count)])
    users = list(User.objects.filter(handle__startswith="bench").order_by("pk"))
    Member.objects.bulk_create([
        Member(union=union, local=local, user=u, pseudonym=f"bench-{n}", status=Member.Status.ACTIVE)
        for n, u in enumerate(users)
    ])
    RoleGrant.objects.bulk_create([RoleGrant(user=u, local=local, role="member") for u in users])
    cookies = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "membership.backends.HandleOrEmailBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return [u.pk for u in users], cookies


class PgSessions:
    """Counts connections opened to the bench database (pg_stat_database.sessions, PostgreSQL 14+)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url, autocommit=True) if url.startswith("postgres") else None

    def read(self) -> int | None:
        if self.connection is None:
            return None
        time.sleep(1.2)  # backends flush their statistics about once a second
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        row = self.connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
        return int(row[0]) if row else None


# ------------------------------------------------------------------------------------------
# The run.
# ------------------------------------------------------------------------------------------

def percentiles(latencies: list[float | None]) -> tuple[float, float, float, float]:
    delivered = sorted(x * 1000 for x in latencies if x is not None)
    share = 100 * len(delivered) / len(latencies)
    if len(delivered) < 2:
        return float("nan"), float("nan"), float("nan"), share
    cuts = statistics.quantiles(delivered, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], share


async def measure(port: int, paths: list[str], cookies: list[str], send: Callable[[], None],
                  settle: float, mark: Callable[[], int | None] = lambda: None) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    clients, connect_seconds = await open_all(port, paths, cookies)
    try:
        await asyncio.sleep(settle)
        refused = sum(1 for c in clients if c.close_code is not None)
        settled = await loop.run_in_executor(None, mark)
        await burst(clients, send)  # warm-up, not counted: the layer connects on this loop's first send
        await asyncio.sleep(0.5)
        latencies: list[float | None] = []
        started = time.perf_counter()
        for _ in range(ROUNDS):
            latencies += await burst(clients, send)
            await asyncio.sleep(0.5)
        delivering = time.perf_counter() - started
        delivered = await loop.run_in_executor(None, mark)
        p50, p95, p99, share = percentiles(latencies)
        return {"p50": p50, "p95": p95, "p99": p99, "delivered": share, "connect": connect_seconds,
                "refused": refused, "settled": settled, "after": delivered, "delivering": delivering}
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 250, 500])
    parser.add_argument("--tessera-root", type=Path, default=ROOT)
    parser.add_argument("--conn-max-age", default="60")
    parser.add_argument("--pool", action="store_true", help="borrow connections from a pool (CONN_MAX_AGE 0)")
    parser.add_argument("--recheck", default="5")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        print("skipped: bench/realtime.py measures the Redis pub/sub layer; set REDIS_URL (redis://127.0.0.1:6379/0)")
        return

    database_url, drop_database = fresh_database()
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "union.settings", "DATABASE_URL": database_url, "TESSERA_DEBUG": "0",
        "TESSERA_REDIS_PREFIX": f"bench-rt-{os.getpid()}", "TESSERA_DB_CONN_MAX_AGE": "0" if args.pool else args.conn_max_age,
        "TESSERA_DB_POOL": "1" if args.pool else "0",
        "TESSERA_WS_RECHECK_SECONDS": args.recheck, "TESSERA_LOG_LEVEL": "ERROR",
    })
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from union.realtime import broadcast_many_now, notify_users

    processes: list[subprocess.Popen[bytes]] = []
    try:
        call_command("migrate", verbosity=0)
        user_ids, cookies = seed(max(args.sizes))
        connections.close_all()
        env = dict(os.environ)
        bare, bare_port = start_daphne(ROOT, "realtime:bare_application", env, f"{ROOT}:{ROOT / 'bench'}")
        tessera, tessera_port = start_daphne(args.tessera_root, "union.asgi:application", env, str(args.tessera_root))
        processes += [bare, tessera]
        pg = PgSessions(database_url)
        settle = float(args.recheck) + 1  # past one re-check window, so the timers run as in steady state
        db_name = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        print(f"Daphne + Redis pub/sub + {db_name}; {ROUNDS} rounds of one notification to each client; "
              f"{'connection pool' if args.pool else f'CONN_MAX_AGE={args.conn_max_age}'}, re-check every {args.recheck} s; "
              f"serving {args.tessera_root}", flush=True)
        rows = []
        for size in args.sizes:
            ids = user_ids[:size]

            def send_bare(ids: list[int] = ids) -> None:
                broadcast_many_now([(f"bare.{n}", {"type": "notify.message", "kind": "bench", "text": "Bench notice",
                                                   "url": ""}) for n in range(len(ids))])

            def send_tessera(ids: list[int] = ids) -> None:
                notify_users(ids, kind="bench", text="Bench notice")

            base = asyncio.run(measure(bare_port, [f"/bare/{n}/" for n in range(size)], [""] * size, send_bare, 1))
            before = pg.read()
            ours = asyncio.run(measure(tessera_port, ["/ws/notifications/"] * size, cookies[:size], send_tessera,
                                       settle, pg.read))
            rows.append((size, base, ours, before, None))
            print(f"{size} clients done", flush=True)
        print()
        print("| clients | server | p50 ms | p95 ms | p99 ms | delivered | connect all | p95 ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for size, base, ours, _before, _after in rows:
            for label, result in (("bare consumer", base), ("Tessera", ours)):
                ratio = f"{ours['p95'] / base['p95']:.2f}x" if label == "Tessera" and base["p95"] > 0 else ""
                refused = f" ({result['refused']} refused)" if result["refused"] else ""
                print(f"| {size} | {label} | {result['p50']:.1f} | {result['p95']:.1f} | {result['p99']:.1f} "
                      f"| {result['delivered']:.1f}%{refused} | {result['connect']:.2f} s | {ratio} |")
        if rows and rows[0][3] is not None:
            print()
            print("PostgreSQL connections opened (pg_stat_database.sessions):")
            print()
            print("| clients | connecting and settling | delivering (rounds x clients) |")
            print("|---|---|---|")
            for size, _base, ours, before, _none in rows:
                print(f"| {size} | {ours['settled'] - before} | {ours['after'] - ours['settled']} "
                      f"({ROUNDS} x {size}, over {ours['delivering']:.1f} s) |")
    finally:
        for process in processes:
            stop(process)
        from django.db import connections as all_connections

        all_connections.close_all()
        drop_database()


if __name__ == "__main__":
    main()
elif __name__ == "realtime":  # imported by Daphne (`realtime:bare_application`), not by bench/rooms.py
    bare_application = _bare_application()
