"""Rooms across processes and faults, on the real stack: two Daphne processes on one database and
one Redis (a redis-server of the test's own, so that it can be restarted), and two Python clients
(messaging/client/live.py) with real UR1 keys, one on each process.

- Messages cross from one process to the other.
- Redis is killed mid-conversation and started again; the clients go on sending throughout, and
  afterwards each holds every message exactly once, in order.
- One Daphne process is killed (SIGKILL); its client moves to the other and carries on; nothing
  is lost or doubled, including a send in flight when the process died.

The database is the test database itself (PostgreSQL with DATABASE_URL), or, on SQLite, a file
copy of the in-memory test database (VACUUM INTO) that both processes share. Skips without
redis-server (TESSERA_REQUIRE_SERVICES=1 makes that a failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from messaging.client.http import Session
from messaging.client.live import RoomLink
from messaging.models import Message, Room
from tests.base import login_as
from tests.factories import make_local, make_member
from tests.messaging.rooms import enroll, land, local_room
from tests.services import need

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process on port {port} exited: {log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port}: {log.read_text()[-3000:]}")


class RedisServer:
    """A redis-server of our own, without persistence, that the test may kill and start again."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.tmp = free_port(), tmp
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.tmp / "redis.log"
        self.process = subprocess.Popen(  # noqa: S603 - the system's redis-server, our arguments
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)], stdout=log.open("ab"), stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, 10, log)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"


class Daphne:
    def __init__(self, env: dict[str, str], tmp: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = tmp / f"daphne-{name}.log"
        # The origin check compares scheme, host and port with the site's address: this process's.
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(self.port), "union.asgi:application"],
            cwd=REPO, env={**env, "TESSERA_SITE_URL": self.url}, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):  # noqa: S310 - our own server
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    pytest.fail(self.log.read_text()[-3000:])
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def database_url(tmp: Path) -> str:
    """What the Daphne processes use: this test's database, committed rows and all."""
    if connection.vendor == "postgresql":
        name = connection.settings_dict["NAME"]
        return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}"))
    if connection.vendor == "sqlite":
        # The test database lives in memory; both processes share a file copy of it instead.
        target = tmp / "live.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(target)])
        return f"sqlite:///{target}"
    pytest.skip(f"no way to share a {connection.vendor} test database with other processes")


def cookie_of(user: Any) -> str:
    return str(login_as(Client(), user).cookies[settings.SESSION_COOKIE_NAME].value)


def session_for(server: str, cookie: str) -> Session:
    return Session(server, [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "domain": HOST, "path": "/",
                             "secure": False}])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An organizer and two members in one local room (its commit landed, every wrap opened)."""
    need(shutil.which("redis-server") is not None, "redis-server is not installed: no Redis to restart")
    local = make_local()
    organizer, amani, baraka = make_member(local, "organizer"), make_member(local), make_member(local)
    keys = {u.pk: enroll(u) for u in (organizer, amani, baraka)}
    room = local_room(organizer, local)
    land(room, (organizer, keys[organizer.pk]),
         [(organizer, keys[organizer.pk], "admin"), (amani, keys[amani.pk], "member"),
          (baraka, keys[baraka.pk], "member")])
    cookies = {u.pk: cookie_of(u) for u in (amani, baraka)}
    url = database_url(tmp_path)  # after the seeding and the logins: the SQLite copy must hold them
    redis = RedisServer(tmp_path)
    redis.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({"DATABASE_URL": url, "REDIS_URL": redis.url, "TESSERA_REDIS_PREFIX": f"faults{os.getpid()}",
                "TESSERA_DEBUG": "0", "TESSERA_DB_POOL": "0", "PYTHONUNBUFFERED": "1", "TESSERA_LOG_LEVEL": "WARNING"})
    servers = [Daphne(env, tmp_path, "one"), Daphne(env, tmp_path, "two")]
    try:
        for server in servers:
            server.ready()
        yield {"room": room, "redis": redis, "servers": servers, "amani": (cookies[amani.pk], keys[amani.pk]),
               "baraka": (cookies[baraka.pk], keys[baraka.pk]), "database_url": url}
    finally:
        for server in servers:
            server.stop()
        redis.kill()


def link(world: dict[str, Any], who: str, first: int) -> RoomLink:
    """The person's client, on server `first` and knowing the other as a fallback."""
    cookie, account = world[who]
    room: Room = world["room"]
    urls = [s.url for s in world["servers"]]
    order = urls[first:] + urls[:first]
    return RoomLink(account, room.room_id, str(room.code), [session_for(url, cookie) for url in order],
                    poll_seconds=2.0, backoff_base=0.1, backoff_cap=1.0, ack_timeout=5.0)


async def until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def heard_live(client: RoomLink, seq: int) -> bool:
    return any(d.seq == seq and d.via == "live" for d in client.delivered)


def texts(client: RoomLink) -> list[str]:
    return [json.loads(d.body or b"{}").get("text", "?") for d in client.delivered]


def stored_messages(world: dict[str, Any]) -> int:
    """How many messages the processes stored (on SQLite, in their file, not the test's copy)."""
    url = world["database_url"]
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            return int(db.execute(f"SELECT count(*) FROM {Message._meta.db_table}").fetchone()[0])  # noqa: S608
    return Message.objects.count()


def assert_exactly_once(clients: list[RoomLink], sent: list[tuple[int, str]], stored: int) -> None:
    """Every client holds every message once, in order of number, and opened each one."""
    expected = [text for _seq, text in sorted(sent)]
    assert sorted(seq for seq, _t in sent) == list(range(1, len(sent) + 1))
    for client in clients:
        assert [d.seq for d in client.delivered] == list(range(1, len(sent) + 1))
        assert texts(client) == expected
    assert stored == len(sent)  # no send was stored twice


async def start(clients: list[RoomLink]) -> list[asyncio.Task[None]]:
    tasks = [asyncio.ensure_future(c.run()) for c in clients]
    await until(lambda: all(c._connected.is_set() for c in clients) or any(t.done() for t in tasks), 30,
                "both clients to connect")
    for task in tasks:
        if task.done():
            task.result()  # raises what ended it
    return tasks


async def finish(clients: list[RoomLink], tasks: list[asyncio.Task[None]]) -> None:
    for client in clients:
        await client.stop()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_rooms_cross_processes_and_survive_a_redis_restart_and_a_killed_process(world: dict[str, Any]) -> None:
    # One story on one stack: starting two Daphne processes is most of this test's time.
    amani, baraka = link(world, "amani", 0), link(world, "baraka", 1)
    sent: list[tuple[int, str]] = []

    async def say(client: RoomLink, text: str) -> None:
        sent.append((await client.send({"type": "text", "text": text}), text))

    async def across_processes() -> None:
        for n in range(3):
            await say(amani, f"amani {n}")
            await say(baraka, f"baraka {n}")
        await until(lambda: len(amani.delivered) == len(baraka.delivered) == 6, 10, "the first six")
        # Each heard the other live, through the other process and Redis; its own by the ack.
        assert [d.via for d in amani.delivered] == ["ack", "live"] * 3
        assert [d.via for d in baraka.delivered] == ["live", "ack"] * 3

    async def redis_restarts() -> None:
        world["redis"].kill()
        # Sent while Redis is down: stored (and acknowledged) all the same; nobody hears them live.
        down = [asyncio.ensure_future(say(amani, "while down 1")), asyncio.ensure_future(say(baraka, "while down 2"))]
        await asyncio.sleep(1.0)
        world["redis"].start()
        await asyncio.gather(*down)
        for n in range(3):
            await say(baraka, f"after {n}")
            await say(amani, f"reply {n}")
        # The live path comes back too (each process's layer re-subscribes): keep talking until
        # each hears the other on the socket again, not only by catching up.
        for n in range(20):
            await say(amani, f"live? {n}")
            await say(baraka, f"live! {n}")
            await asyncio.sleep(0.3)
            if heard_live(amani, len(sent)) and heard_live(baraka, len(sent) - 1):
                break
        await until(lambda: len(amani.delivered) == len(baraka.delivered) == len(sent), 20, "every message")
        assert heard_live(amani, len(sent)) and heard_live(baraka, len(sent) - 1)
        assert any(d.via == "fetch" for d in amani.delivered)  # the outage did cost live relays

    async def a_process_dies() -> None:
        # A send in flight as amani's process dies: stored or not, it must end up there once.
        in_flight = asyncio.ensure_future(say(amani, "in flight"))
        world["servers"][0].process.send_signal(signal.SIGKILL)
        await in_flight
        for n in range(3):
            await say(baraka, f"still here {n}")
            await say(amani, f"me too {n}")
        await until(lambda: len(amani.delivered) == len(baraka.delivered) == len(sent), 20, "every message")
        assert amani.server == 1 and amani.connects >= 2  # moved to the other process
        assert baraka.connects == 1  # never noticed

    async def scenario() -> None:
        tasks = await start([amani, baraka])
        await across_processes()
        await redis_restarts()
        await a_process_dies()
        await asyncio.sleep(2.5)  # one poll more: nothing arrives twice, late
        await finish([amani, baraka], tasks)

    asyncio.run(scenario())
    assert_exactly_once([amani, baraka], sent, stored_messages(world))
    assert len(sent) >= 23
