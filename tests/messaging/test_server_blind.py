"""The server is blind (spec e2ee.md §4.11, §5.3): everything an operator could hand over holds no
message, no room name and no key.

Real clients hold a conversation through a real Daphne (Tessera's ASGI application, Redis channel
layer, PostgreSQL when DATABASE_URL points at it, else SQLite): three Python clients
(messaging.client over HTTP, the organizer with two-factor) and one Chromium page (ur1.js and api.js
from the server's own static files, logged in through the login form, talking over the rooms socket).
The organizer opens a committee room, seats the others, gives it a sealed name, everyone writes
messages carrying canaries, one member is unseated and rotated out (a new epoch, which that member
cannot read), two people upload key backups under generated recovery keys, and clients send bad
requests and frames carrying a marker of their own.

Then the test takes what a seizure would take: the database (pg_dump or the SQLite files, and
`manage.py dumpdata`), every command Redis received during the run (`MONITOR`) and its RDB file,
every file under the server's media and data directory, and the server's logs at DEBUG (Django's
SQL log, django.request, channels, daphne, the access log). It searches all of it for every
canary, the room's names and topics, each epoch secret es, every K_s and K_m, the backup roots and
BKs, the recovery keys and every private MSK/DSK/DEK seed: raw, hex, base64 and base64url at every
byte alignment (padded or not), Python byte escapes, URL-encoded and JSON-escaped. Nothing may be
found. Controls show the search can fail: public keys, ciphertext and markers planted by the test
itself in each kind of artifact, in each encoding, must be found.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from messaging import ur1
from messaging.client import Account, Peer, new_id16
from messaging.client.__main__ import ClientError, Session
from tests.services import chromium_path, need

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAPHNE_PORTS = range(8150, 8160)
REDIS_PORTS = range(6380, 6390)
BROWSER_JS = (Path(__file__).with_name("blind_browser.js")).read_text()

SETUP = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", "--no-input", "-v", "0")
from membership.models import Member
from tests.factories import PASSWORD, make_local, make_member, make_totp
local = make_local(name="Blind")
totp = make_totp(make_member(local, "organizer", handle="blind-org"))
people = {h: make_member(local, handle=h) for h in ("blind-b", "blind-c", "blind-d", "blind-x")}
# The database control: a value the test plants in clear, which the search must find.
Member.objects.filter(user=people["blind-x"]).update(pseudonym=sys.argv[1])
codes = {h: str(Member.objects.get(user=u).code) for h, u in people.items()}
print(json.dumps({"local": str(local.code), "password": PASSWORD, "members": codes, "totp_key": totp.key}))
"""


def _free_port(candidates: range) -> int:
    """The first free port of the range (the ports this test may take on a shared machine), else any."""
    for port in [*candidates, 0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise AssertionError("no free port")


# --- what is searched for, and how ----------------------------------------------------------------

def normalize(data: bytes) -> bytes:
    """One view for every text encoding: lowercase, and base64's two alphabets (and their URL and
    JSON escapes) made one. A 30-character needle cannot match by chance, so folding case only
    makes the search wider."""
    data = data.lower()
    for escaped, plain in ((b"%2b", b"+"), (b"%2f", b"/"), (b"%3d", b"="), (b"\\/", b"/"), (b"\\u002b", b"+")):
        data = data.replace(escaped, plain)
    return data.translate(bytes.maketrans(b"+/", b"-_"))


def base64_at_every_alignment(data: bytes) -> list[bytes]:
    """The base64 characters that depend on `data` alone, as it would be encoded after 0, 1 or 2
    other bytes: what shows up when a secret sits inside a larger base64 blob."""
    out = []
    for k in range(3):
        encoded = base64.b64encode(bytes(k) + data)
        start, end = -(-8 * k // 6), 8 * (k + len(data)) // 6
        out.append(encoded[start:end])
    return out


def forms_of_bytes(data: bytes) -> dict[str, bytes]:
    forms = {"hex": data.hex().encode()}
    for k, chunk in enumerate(base64_at_every_alignment(data)):
        forms[f"base64/base64url (alignment {k})"] = chunk
    forms["python bytes repr"] = repr(data)[2:-1].encode()
    return {name: normalize(form) for name, form in forms.items()}


def forms_of_text(text: str) -> dict[str, bytes]:
    raw = text.encode()
    forms = {"text": raw, "url-encoded": urllib.parse.quote(text).encode(),
             "url-encoded (form)": urllib.parse.quote_plus(text).encode(),
             "json-escaped": json.dumps(text)[1:-1].encode()}
    return _distinct({**{name: normalize(form) for name, form in forms.items()}, **forms_of_bytes(raw)})


def _distinct(forms: dict[str, bytes]) -> dict[str, bytes]:
    """One entry per distinct needle (plain ASCII reads the same URL-encoded, JSON-escaped...)."""
    seen: dict[bytes, str] = {}
    for name, form in forms.items():
        seen.setdefault(form, name)
    return {name: form for form, name in seen.items()}


@dataclass
class Needle:
    label: str
    raw: bytes | None  # searched in the artifact as it is (binary secrets)
    forms: dict[str, bytes]  # searched in its normalized view


@dataclass
class Secrets:
    needles: list[Needle] = field(default_factory=list)

    def key(self, label: str, data: bytes) -> None:
        assert len(data) >= 16, label
        self.needles.append(Needle(label, data, forms_of_bytes(data)))

    def text(self, label: str, text: str) -> None:
        assert len(text) >= 16, label  # shorter needles could match by chance
        self.needles.append(Needle(label, None, forms_of_text(text)))

    def epoch(self, label: str, es: bytes, commit: ur1.Commit) -> None:
        """An epoch secret and every key derived from it (K_m, each sender's K_s)."""
        self.key(f"{label} es", es)
        self.key(f"{label} K_m", ur1.meta_key(es, commit.room, commit.epoch))
        for d in commit.devices:
            self.key(f"{label} K_s of {d.device}", ur1.sender_key(es, commit.room, commit.epoch, d.user, d.device))


@dataclass
class Artifact:
    name: str
    raw: bytes
    view: bytes


def find(needle: Needle, artifacts: list[Artifact]) -> list[str]:
    hits = []
    for artifact in artifacts:
        if needle.raw is not None and needle.raw in artifact.raw:
            hits.append(f"{needle.label}: raw bytes in {artifact.name}")
        for form_name, form in needle.forms.items():
            at = artifact.view.find(form)
            if at >= 0:
                context = artifact.view[max(0, at - 60):at + len(form) + 60].decode("utf-8", "replace")
                hits.append(f"{needle.label}: {form_name} in {artifact.name}: ...{context}...")
    return hits


# --- the live server and what it leaves behind ----------------------------------------------------

@dataclass
class Live:
    tmp: Path
    url: str
    env: dict[str, str]
    setup: dict[str, Any]
    redis_port: int
    processes: dict[str, subprocess.Popen[bytes]]
    database: Any

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def manage(self, *args: str) -> bytes:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout

    def totp(self) -> str:
        """The organizer's current code (its key came from the setup; the server accepts a step either side)."""
        from django_otp.oath import TOTP

        return f"{TOTP(bytes.fromhex(self.setup['totp_key'])).token():06d}"

    def redis(self, *args: str) -> bytes:
        return subprocess.run(["redis-cli", "-p", str(self.redis_port), *args], capture_output=True, timeout=30,
                              check=True).stdout


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    chromium_path()
    need(shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None,
         "redis-server is not installed: this test runs a Redis of its own to capture what it receives")
    from tests.browser.conftest import _Database, _wait_until_healthy

    data = tmp_path / "server"  # everything the server writes: database, media, keys, logs, Redis files
    data.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    outputs = contextlib.ExitStack()
    database = _Database.create(data)
    live = None
    try:
        redis_port = _free_port(REDIS_PORTS)
        # Its own Redis, so that MONITOR sees this run's traffic only. No RDB compression: LZF would
        # hide a secret from a byte search as well as from nobody else.
        processes["redis"] = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(data), "--dbfilename", "dump.rdb", "--rdbcompression", "no"],
            stdout=outputs.enter_context((data / "redis.log").open("wb")), stderr=subprocess.STDOUT)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True,
                              check=False).stdout.strip() == b"PONG":
                break
            time.sleep(0.05)
        processes["monitor"] = subprocess.Popen(["redis-cli", "-p", str(redis_port), "monitor"],
                                                stdout=outputs.enter_context((data / "redis-monitor.log").open("wb")),
                                                stderr=subprocess.STDOUT)
        port = _free_port(DAPHNE_PORTS)
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update({
            "DATABASE_URL": database.url, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "TESSERA_REDIS_PREFIX": "blind", "TESSERA_KEYS_FILE": str(data / "dev-keys.json"),
            "TESSERA_MEDIA_ROOT": str(data / "media"), "TESSERA_SERVE_STATIC": "1", "TESSERA_SITE_URL": url,
            # The most the server can say about itself: DEBUG (Django logs every SQL statement with
            # its parameters) and every logger at DEBUG, django.request, channels and daphne included.
            "TESSERA_DEBUG": "1", "TESSERA_LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1", "PORT": str(port),
        })
        control_db = "CONTROL" + secrets.token_hex(12)
        setup = subprocess.run([sys.executable, "-c", SETUP, control_db], cwd=REPO, env=env, capture_output=True,
                               text=True, timeout=300, check=False)
        assert setup.returncode == 0, setup.stderr
        info = {**json.loads(setup.stdout.strip().splitlines()[-1]), "control_db": control_db}
        processes["daphne"] = subprocess.Popen(
            [str(BIN / "daphne"), "-v", "2", "--access-log", str(data / "access.log"), "-b", "127.0.0.1",
             "-p", str(port), "union.asgi:application"],
            cwd=REPO, env=env, stdout=outputs.enter_context((data / "daphne.log").open("wb")), stderr=subprocess.STDOUT)
        _wait_until_healthy(url, processes["daphne"], data / "daphne.log")
        live = Live(tmp=data, url=url, env=env, setup=info, redis_port=redis_port, processes=processes,
                    database=database)
        yield live
    finally:
        for name in ("daphne", "monitor", "redis"):
            if live is not None:
                live.stop(name)
            elif name in processes:
                processes[name].kill()
                processes[name].wait(timeout=10)
        outputs.close()
        database.drop()


def take_everything(live: Live) -> list[Artifact]:
    """What a seizure takes, once the server has stopped (its logs flushed, Redis saved)."""
    live.stop("daphne")
    live.redis("save")
    for key in live.redis("--scan").split():
        (live.tmp / "redis-keys").mkdir(exist_ok=True)
        (live.tmp / "redis-keys" / key.decode()).write_bytes(live.redis("--no-raw", "dump", key.decode()))
    time.sleep(0.2)  # MONITOR writes the last commands
    live.stop("monitor")
    live.stop("redis")
    (live.tmp / "dumpdata.json").write_bytes(live.manage("dumpdata"))
    if live.database.name:
        dump = live.tmp / "pg_dump.sql"
        parts = urllib.parse.urlsplit(live.database.url)
        libpq = urllib.parse.urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))
        subprocess.run(["pg_dump", "--no-owner", "--file", str(dump), libpq], timeout=120, check=True)
    artifacts = []
    for path in sorted(p for p in live.tmp.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        artifacts.append(Artifact(str(path.relative_to(live.tmp)), raw, normalize(raw)))
    return artifacts


# --- the Python clients ---------------------------------------------------------------------------

@dataclass
class PyClient:
    handle: str
    session: Session
    account: Account
    ctr: dict[int, int] = field(default_factory=dict)  # the next counter per epoch
    accepted: dict[int, ur1.AcceptedCommit] = field(default_factory=dict)  # every commit it accepted

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return self.session.api(method, path, body)

    def sync(self, code: str, room_id: str) -> ur1.AcceptedCommit:
        """Accept the commits after this client's head (verifying each), open the new epoch's wrap."""
        after = max(self.accepted, default=-1)
        lists = {dl["user"]: [ur1.parse_device_list(dl)]
                 for dl in self.api("GET", f"/rooms/{code}/device-lists")["device_lists"]}
        for body in self.api("GET", f"/rooms/{code}/commits?after={after}")["commits"]:
            head = self.account.accept(room_id, body, lists)
            self.accepted[head.commit.epoch] = head
        wrap = next(w for w in self.api("GET", f"/wraps?device={self.account.device_id}")["wraps"]
                    if w["room"] == room_id and w["epoch"] == head.commit.epoch)
        self.account.take_wrap(room_id, wrap)
        return head

    def send(self, code: str, room_id: str, text: str) -> int:
        state = self.account.rooms[room_id]
        assert state.head is not None
        epoch = state.head.commit.epoch
        state.ctr = self.ctr.get(epoch, 0)
        envelope = self.account.seal(room_id, {"type": "text", "text": text, "ts": int(time.time() * 1000)})
        self.ctr[epoch] = state.ctr
        return int(self.api("POST", f"/rooms/{code}/messages", envelope)["seq"])

    def read(self, code: str, room_id: str, after: int = 0) -> list[str]:
        state = self.account.rooms[room_id]
        state.replay = ur1.ReplaySet()
        texts = []
        for item in self.api("GET", f"/rooms/{code}/messages?after={after}")["messages"]:
            env = item["envelope"]
            opened = ur1.open_message(env, room=room_id, accepted=self.accepted[env["epoch"]],
                                      es=state.secrets[env["epoch"]], replay=state.replay)
            texts.append(json.loads(opened.body)["text"])
        return texts


def log_in(live: Live, handle: str, *, totp: bool = False) -> PyClient:
    session = Session(live.url)
    session.request("GET", "/account/login/")
    page = session.request("POST", "/account/login/", form={"username": handle, "password": live.setup["password"]})
    if totp:
        assert "otp_token" in page
        session.request("POST", "/account/two-factor/verify/", form={"otp_token": live.totp()})
    user = session.api("GET", "/devices")["user"]
    client = PyClient(handle, session, Account(user_id=user))
    client.api("POST", "/devices", client.account.device_list())
    return client


def canary() -> str:
    return "CANARY-" + secrets.token_hex(8)


# --- the run --------------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.redis
def test_the_server_holds_nothing_it_could_read(live: Live) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS

    found = Secrets()
    words: list[str] = []
    org = log_in(live, "blind-org", totp=True)
    b, c = log_in(live, "blind-b"), log_in(live, "blind-c")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(15_000)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            # The fourth member logs in through the real login form, as a person does.
            page.goto(f"{live.url}/account/login/")
            page.get_by_label("Handle or email").fill("blind-d")
            page.get_by_label("Password", exact=True).fill(live.setup["password"])
            page.locator("main form").get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{live.url}/")
            # api.js reads the CSRF token from <meta name="csrf-token">, which the room pages will carry;
            # this page has it in its forms.
            page.evaluate("""() => { const m = document.createElement("meta"); m.name = "csrf-token";
                m.content = document.querySelector("input[name=csrfmiddlewaretoken]").value; document.head.append(m); }""")

            def js(step: str, **args: Any) -> Any:
                return page.evaluate(BROWSER_JS, {"step": step, **args})

            d = js("enroll")
            found.key("browser MSK seed", bytes.fromhex(d["msk"]))
            found.key("browser DSK seed", bytes.fromhex(d["dsk"]))
            found.key("browser DEK secret", bytes.fromhex(d["dek"]))
            for client in (org, b, c):
                found.key(f"{client.handle} MSK seed", client.account.msk_seed)
                found.key(f"{client.handle} DSK seed", client.account.dsk_seed)
                found.key(f"{client.handle} DEK secret", client.account.dek_secret)

            # The organizer opens a committee, seats three members and commits them in: epoch 1.
            room = org.api("POST", "/rooms", {"kind": "committee", "parent": live.setup["local"], "room_id": new_id16()})
            code, rid = room["code"], room["room_id"]
            commit(org, code, rid, [], found)
            for handle in ("blind-b", "blind-c", "blind-d"):
                org.api("POST", f"/rooms/{code}/seats", {"member": live.setup["members"][handle], "seated": True})
            commit(org, code, rid, [b.account.user_id, c.account.user_id, d["user"]], found)
            name = {"name": f"Comité de grève {secrets.token_hex(8)}", "topic": f"Réunion jeudi {secrets.token_hex(8)}"}
            found.text("room name (epoch 1)", name["name"])
            found.text("room topic (epoch 1)", name["topic"])
            org.api("PUT", f"/rooms/{code}/meta", org.account.seal_meta(rid, name))
            for member in (b, c):
                member.sync(code, rid)
                assert member.account.open_meta(rid, org.api("GET", f"/rooms/{code}")["meta"]) == name
            joined = js("sync", code=code)
            assert joined["epoch"] == 1 and joined["meta"] == name  # Python sealed it, ur1.js opened it
            assert joined["es"] == org.account.rooms[rid].secrets[1].hex()
            js("connect")

            # Epoch 1: everyone writes; the browser over the socket, the others over HTTP.
            for client in (org, b, c):
                text = f"{client.handle} says {canary()} and {canary()}"
                words.append(text)
                client.send(code, rid, text)
            text = f"the browser says {canary()}"
            words.append(text)
            assert (ack := js("send", code=code, text=text))["type"] == "ack", ack
            assert js("read", count=4) == words  # relayed through Redis to the page, opened there
            assert c.read(code, rid) == words

            # Clients' mistakes carrying a marker: refused, and never written anywhere.
            marker = "MISTAKE-" + secrets.token_hex(8)
            bad_requests(c, code, rid, marker)
            errors = js("garbage", frames=[f'{{"type":"send","text":"{marker}"}}', f"{marker} not json",
                                           json.dumps({"type": "send", "room": code, "ref": "x",
                                                       "envelope": {"text": marker}})])
            assert errors == ["invalid frame"] * 3

            # B is unseated and rotated out: epoch 2 goes to the organizer, C and the browser only.
            org.api("POST", f"/rooms/{code}/seats", {"member": live.setup["members"]["blind-b"], "seated": False})
            assert org.api("GET", f"/rooms/{code}")["pending_remove"] == [b.account.user_id]
            epoch1_b = b.account.rooms[rid]
            commit(org, code, rid, [c.account.user_id, d["user"]], found)
            renamed = {"name": f"Comité restreint {secrets.token_hex(8)}"}
            found.text("room name (epoch 2)", renamed["name"])
            org.api("PUT", f"/rooms/{code}/meta", org.account.seal_meta(rid, renamed))
            c.sync(code, rid)
            assert c.account.open_meta(rid, c.api("GET", f"/rooms/{code}")["meta"]) == renamed
            assert js("sync", code=code)["meta"] == renamed
            later = [f"after the removal {canary()}", f"the browser, after {canary()}"]
            words += later
            org.send(code, rid, later[0])
            assert (ack := js("send", code=code, text=later[1]))["type"] == "ack", ack
            assert js("read", count=6)[-2:] == later
            assert c.read(code, rid, after=4) == later

            the_removed_member_reads_nothing_new(org, b, epoch1_b, code, rid, renamed)

            # Backups under generated recovery keys: the organizer's (Python) and the browser's.
            backup = js("backup")
            assert backup["restored"] and backup["items"] == 3
            found.text("browser recovery key", backup["recoveryKey"])
            found.text("browser recovery key (normalized)", backup["recoveryKey"].replace("-", ""))
            found.key("browser backup root", bytes.fromhex(backup["root"]))
            found.key("browser BK", bytes.fromhex(backup["bk"]))
            python_backup(org, rid, found)
            assert not problems, problems
        finally:
            browser.close()

    for text in words:
        found.text("message text", text)
        for word in re.findall(r"CANARY-[0-9a-f]{16}", text):
            found.text("canary", word)
    found.text("marker sent in bad requests", marker)
    controls = plant_controls(live, org, code, rid)
    artifacts = take_everything(live)
    names = {a.name for a in artifacts}
    assert {"daphne.log", "access.log", "redis-monitor.log", "dump.rdb", "dumpdata.json"} <= names, names
    assert any("sqlite3" in n or n == "pg_dump.sql" for n in names), names
    # The channel layer keeps nothing at rest: Redis holds only the control the test planted.
    assert sorted(n for n in names if n.startswith("redis-keys/")) == ["redis-keys/blind-control"]

    leaks = [hit for needle in found.needles for hit in find(needle, artifacts)]
    assert not leaks, "the server holds what it must not:\n" + "\n".join(leaks[:40])
    for needle, where in controls:
        hits = find(needle, [a for a in artifacts if a.name in where or where == "*"])
        assert hits, f"control {needle.label} was not found in {where}: the search is broken"


def commit(org: PyClient, code: str, rid: str, others: list[str], found: Secrets) -> None:
    """The organizer's next commit: itself as admin, `others` as members, each with every device of
    their newest signed device list; then it accepts it and opens its own wrap."""
    lists = {dl["user"]: ur1.parse_device_list(dl) for dl in org.api("GET", f"/rooms/{code}/device-lists")["device_lists"]}
    members: list[tuple[Account | Peer, str]] = [(org.account, "admin")]
    members += [(Peer.from_device_list(lists[user]), "member") for user in others]
    body, wraps, es = org.account.make_commit(rid, members)
    org.api("POST", f"/rooms/{code}/commits", {"commit": body, "wraps": wraps})
    head = org.sync(code, rid)
    assert org.account.rooms[rid].secrets[head.commit.epoch] == es
    found.epoch(f"epoch {head.commit.epoch}", es, head.commit)


def bad_requests(client: PyClient, code: str, rid: str, marker: str) -> None:
    """Malformed bodies with the marker inside: 400 with where and what, never the value."""
    envelope = client.account.seal(rid, {"type": "text", "text": "never sent"})
    attempts: list[tuple[str, str, Any]] = [
        ("POST", f"/rooms/{code}/messages", {**envelope, "preview": marker}),
        ("POST", f"/rooms/{code}/messages", {**envelope, "ct": marker}),
        ("POST", f"/rooms/{code}/messages", {**envelope, "sender": {"user": marker, "device": marker}}),
        ("PUT", f"/rooms/{code}/meta", {"name": marker}),
        ("PUT", "/backup/items", {"v": 1, "t": "bk", "kind": marker, "id": marker, "ver": 1, "n": marker, "ct": marker}),
        ("POST", "/devices", {"v": 1, "user": marker}),
        ("POST", f"/rooms/{code}/commits", {"commit": {"room": marker}, "wraps": []}),
    ]
    for method, path, body in attempts:
        with pytest.raises(ClientError) as refused:
            client.api(method, path, body)
        assert "HTTP 400" in str(refused.value) and marker not in str(refused.value), refused.value
    # Not JSON at all, and JSON of the wrong type.
    for raw in (f'{{"text": "{marker}"', json.dumps([marker])):
        headers = {"Content-Type": "application/json", "X-CSRFToken": client.session._csrf(),
                   "Referer": client.session.server + "/"}
        url = client.session.server + f"/api/messaging/rooms/{code}/messages"
        request = urllib.request.Request(url, data=raw.encode(), method="POST", headers=headers)  # noqa: S310
        try:
            client.session.opener.open(request, timeout=30)
            pytest.fail("a malformed body was accepted")
        except urllib.error.HTTPError as error:
            body = error.read().decode()
            assert error.code == 400 and marker not in body, body


def the_removed_member_reads_nothing_new(org: PyClient, b: PyClient, epoch1: Any, code: str, rid: str,
                                         renamed: dict[str, str]) -> None:
    """Spec §5.2 #5: B was in epoch 1 and is not in epoch 2. Even handed the ciphertext by a colluding
    server, B has no wrap for epoch 2, and B's epoch-1 secret opens neither its messages nor its name."""
    with pytest.raises(ClientError, match="HTTP 404"):
        b.api("GET", f"/rooms/{code}")
    wraps = b.api("GET", f"/wraps?device={b.account.device_id}")["wraps"]
    assert not [w for w in wraps if w["epoch"] >= 2]
    head2 = org.account.rooms[rid].head
    assert head2 is not None and head2.commit.epoch == 2
    assert head2.commit.device(b.account.user_id, b.account.device_id) is None
    envelope = org.api("GET", f"/rooms/{code}/messages?after=0")["messages"][-2]["envelope"]
    assert envelope["epoch"] == 2
    es1 = epoch1.secrets[1]
    with pytest.raises(ur1.UR1Error):  # B's own view: no accepted epoch 2
        ur1.open_message(envelope, room=rid, accepted=epoch1.head, es=es1, replay=ur1.ReplaySet())
    with pytest.raises(ur1.UR1Error):  # even given the signed commit, its epoch-1 secret does not decrypt
        ur1.open_message(envelope, room=rid, accepted=head2, es=es1, replay=ur1.ReplaySet())
    meta = org.api("GET", f"/rooms/{code}")["meta"]
    with pytest.raises(ur1.UR1Error):
        ur1.open_meta(meta, room=rid, accepted=head2, es=es1)
    # Nor can B's device key open anyone's epoch-2 wrap.
    wrap = next(w for w in org.api("GET", f"/wraps?device={org.account.device_id}")["wraps"] if w["epoch"] == 2)
    with pytest.raises(ur1.UR1Error):
        ur1.open_wrap(wrap, head2, my_user=org.account.user_id, my_device=org.account.device_id,
                      dek_secret=b.account.dek_secret)
    assert ur1.open_meta(meta, room=rid, accepted=head2, es=org.account.rooms[rid].secrets[2]) == renamed


def python_backup(org: PyClient, rid: str, found: Secrets) -> None:
    recovery = ur1.generate_recovery_key()
    params = ur1.new_params()
    org.api("PUT", "/backup/params", {"params": params})
    root = ur1.derive_root(recovery, params, recovery_key=True)
    bk = ur1.backup_key(root, org.account.user_id)
    for epoch, es in org.account.rooms[rid].secrets.items():
        payload = {"room": rid, "epoch": epoch, "commit": ur1.b64u_encode(org.accepted[epoch].commit_id),
                   "es": ur1.b64u_encode(es)}
        org.api("PUT", "/backup/items", ur1.seal_item(bk, org.account.user_id, "epoch", payload))
    org.api("PUT", "/backup/items", ur1.seal_item(bk, org.account.user_id, "msk",
                                                  {"msk": ur1.b64u_encode(org.account.msk_seed)}))
    items = org.api("GET", "/backup/items")["items"]
    assert ur1.open_item(bk, org.account.user_id, items[-1])["msk"] == ur1.b64u_encode(org.account.msk_seed)
    found.text("organizer recovery key", recovery)
    found.text("organizer recovery key (normalized)", recovery.replace("-", ""))
    found.key("organizer backup root", root)
    found.key("organizer BK", bk)


def plant_controls(live: Live, org: PyClient, code: str, rid: str) -> list[tuple[Needle, str]]:
    """Values the search MUST find, one per kind of artifact and encoding: if any is missed, a
    clean result above means nothing."""
    controls: list[tuple[Needle, str]] = []

    def control(label: str, data: bytes | str, where: str) -> Needle:
        probe = Secrets()
        probe.key(label, data) if isinstance(data, bytes) else probe.text(label, data)
        controls.append((probe.needles[0], where))
        return probe.needles[0]

    # What the server must hold: public keys (base64url at alignment 0) and ciphertext (a slice of a
    # message's ct, at alignments 1 and 2), in the database, its dump and the SQL log.
    control("organizer MSK public key", org.account.msk, "dumpdata.json")
    control("organizer MSK public key in the SQL log", org.account.msk, "daphne.log")
    envelope = org.api("GET", f"/rooms/{code}/messages?after=0")["messages"][0]["envelope"]
    ct = ur1.b64u_decode(envelope["ct"])
    control("a slice of ciphertext", ct[10:42], "dumpdata.json")
    control("a slice of ciphertext relayed through Redis", ct[20:52], "redis-monitor.log")
    control("a pseudonym in clear in the database", live.setup["control_db"],
            "pg_dump.sql" if live.database.name else Path(live.database.url.removeprefix("sqlite:///")).name)
    # Planted by the test: base64 (padded) in Redis and its RDB file, upper-case hex in a media file,
    # URL-encoded text with non-ASCII in the access log.
    in_redis = secrets.token_bytes(32)
    live.redis("set", "blind-control", base64.b64encode(in_redis).decode())
    control("base64 planted in Redis (MONITOR)", in_redis, "redis-monitor.log")
    control("base64 planted in Redis (RDB)", in_redis, "dump.rdb")
    in_media = secrets.token_bytes(32)
    media = live.tmp / "media" / "control"
    media.mkdir(parents=True, exist_ok=True)
    (media / "note.txt").write_bytes(in_media.hex().upper().encode())
    control("upper-case hex planted in media", in_media, "media/control/note.txt")
    in_path = f"Contrôle {secrets.token_hex(8)}"
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(f"{live.url}/control/{urllib.parse.quote(in_path)}", timeout=10)  # noqa: S310
    control("URL-encoded text in a requested path", in_path, "access.log")
    # And raw bytes: a file of the key itself.
    raw = secrets.token_bytes(32)
    (media / "key.bin").write_bytes(raw)
    control("raw bytes planted in media", raw, "media/control/key.bin")
    return controls


# --- the search itself (no services: runs everywhere) -----------------------------------------------

@pytest.mark.parametrize("encode", [
    lambda s: s, lambda s: s.hex().upper().encode(), lambda s: base64.b64encode(b"a" + s),
    lambda s: base64.urlsafe_b64encode(b"ab" + s).rstrip(b"="), lambda s: repr(s).encode(),
    lambda s: urllib.parse.quote(base64.b64encode(s)).encode(),
    lambda s: json.dumps({"k": base64.b64encode(b"xyz" + s).decode()}).replace("/", "\\/").encode(),
], ids=["raw", "HEX", "base64 at 1", "base64url unpadded at 2", "repr", "url-encoded base64", "json-escaped"])
def test_the_search_finds_a_key_in_every_form(encode: Any) -> None:
    key = secrets.token_bytes(32)
    probe = Secrets()
    probe.key("key", key)
    blob = b"noise " * 50 + encode(key) + b" noise" * 50
    assert find(probe.needles[0], [Artifact("blob", blob, normalize(blob))])
    other = secrets.token_bytes(32)
    blob = b"noise " * 50 + encode(other) + b" noise" * 50
    assert not find(probe.needles[0], [Artifact("blob", blob, normalize(blob))])


@pytest.mark.parametrize("encode", [
    lambda s: s.encode(), lambda s: urllib.parse.quote(s).encode(), lambda s: urllib.parse.quote_plus(s).encode(),
    lambda s: json.dumps(s).encode(), lambda s: s.encode().hex().upper().encode(),
    lambda s: base64.b64encode(b"q" + s.encode()),
], ids=["utf-8", "url-encoded", "form-encoded", "json", "hex", "base64"])
def test_the_search_finds_a_room_name_in_every_form(encode: Any) -> None:
    name = f"Comité de grève {secrets.token_hex(8)}"
    probe = Secrets()
    probe.text("name", name)
    blob = b"x" * 100 + encode(name) + b"y" * 100
    assert find(probe.needles[0], [Artifact("blob", blob, normalize(blob))])
