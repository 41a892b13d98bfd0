"""`python -m messaging.client` end to end through a live Daphne: an organizer and a member log in
(the organizer with a TOTP code), enroll, open the local's room, add the member by a signed commit,
exchange messages and read them back decrypted, each command a separate process, as people use it.
The server is Tessera's real ASGI application on a fresh SQLite file; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

SETUP = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", "--no-input", "-v", "0")
from tests.factories import make_local, make_member, make_totp, PASSWORD
local = make_local(name="Nairobi")
organizer = make_member(local, "organizer", handle="organizer")
make_totp(organizer)
make_member(local, "member", handle="amani")
coast = make_local(name="Mombasa")
make_totp(make_member(coast, "organizer", handle="ochieng"))
make_member(coast, "member", handle="wanjiru")
print(json.dumps({"local": str(local.code), "coast": str(coast.code), "password": PASSWORD}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("client-live")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{tmp / 'live.sqlite3'}", "TESSERA_KEYS_FILE": str(tmp / "keys.json"),
                "TESSERA_MEDIA_ROOT": str(tmp / "media"), "PYTHONUNBUFFERED": "1", "TESSERA_DEBUG": "0"})
    setup = subprocess.run([sys.executable, "-c", SETUP], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=300, check=True)
    data = json.loads(setup.stdout.strip().splitlines()[-1])
    port = _free_port()
    log = (tmp / "daphne.log").open("wb")
    process = subprocess.Popen([str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "union.asgi:application"],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 - our own server
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail((tmp / "daphne.log").read_text()[-3000:])
                time.sleep(0.2)
        yield {**data, "url": url, "env": env, "tmp": tmp, "log": tmp / "daphne.log"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def run_cli(live: dict[str, Any], who: str, *args: str, recovery_key: str = "") -> subprocess.CompletedProcess[str]:
    env = {**live["env"], "TESSERA_PASSWORD": live["password"], "TESSERA_RECOVERY_KEY": recovery_key}
    return subprocess.run([sys.executable, "-m", "messaging.client", "--state", str(live["tmp"] / f"{who}.json"),
                           *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def cli(live: dict[str, Any], who: str, *args: str, recovery_key: str = "") -> str:
    done = run_cli(live, who, *args, recovery_key=recovery_key)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cli_refused(live: dict[str, Any], who: str, *args: str, recovery_key: str = "") -> str:
    done = run_cli(live, who, *args, recovery_key=recovery_key)
    assert done.returncode == 1, done.stdout
    return done.stderr


RECOVERY_KEY = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){7})\b")


def totp(live: dict[str, Any], handle: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "demo_totp", handle], cwd=REPO, env=live["env"],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.split()[0]


def test_two_people_talk_through_the_command_line(live: dict[str, Any]) -> None:
    cli(live, "org", "login", "--server", live["url"], "--handle", "organizer", "--totp", totp(live, "organizer"))
    cli(live, "amani", "login", "--server", live["url"], "--handle", "amani")
    cli(live, "org", "enroll")
    cli(live, "amani", "enroll")
    room = cli(live, "org", "open-room", "--kind", "local", "--parent", live["local"]).split()[-1]
    assert "pending" in cli(live, "amani", "rooms")
    name = "Night shift " + os.urandom(8).hex()
    assert cli(live, "org", "name", room, name, "--topic", "Thursdays").strip() == f"named {room}"
    assert cli(live, "org", "rooms").strip().endswith(name)
    assert "epoch 1: 2 members" in cli(live, "org", "add-pending", room)
    # The organizer's client sealed the name again under epoch 1's key: the new member reads it.
    assert "joined" in cli(live, "amani", "rooms") and cli(live, "amani", "rooms").strip().endswith(name)
    canary = "CANARY-" + os.urandom(8).hex()
    assert cli(live, "amani", "send", room, f"hello {canary}").strip() == "sent as 1"
    assert cli(live, "org", "send", room, "welcome").strip() == "sent as 2"
    lines = cli(live, "org", "tail", room).strip().splitlines()
    assert [line.split(None, 2)[2] for line in lines] == [f"hello {canary}", "welcome"]
    assert cli(live, "amani", "tail", room, "--after", "1").strip().endswith("welcome")
    # The server stored and logged ciphertext only.
    assert canary not in live["log"].read_text()
    assert canary.encode() not in (live["tmp"] / "live.sqlite3").read_bytes()
    assert name not in live["log"].read_text() and name.encode() not in (live["tmp"] / "live.sqlite3").read_bytes()


def test_a_new_device_restores_from_the_recovery_key_and_reads_what_was_sent_before(live: dict[str, Any]) -> None:
    cli(live, "ochieng", "login", "--server", live["url"], "--handle", "ochieng", "--totp", totp(live, "ochieng"))
    cli(live, "wanjiru", "login", "--server", live["url"], "--handle", "wanjiru")
    cli(live, "ochieng", "enroll")
    enrolled = cli(live, "wanjiru", "enroll")
    keys = RECOVERY_KEY.findall(enrolled)
    assert len(keys) == 1, enrolled  # printed once: 32 Crockford characters in 8 groups
    recovery_key = keys[0]
    assert recovery_key.replace("-", "") not in (live["tmp"] / "wanjiru.json").read_text()  # never stored
    assert "already" in cli_refused(live, "wanjiru", "enroll")
    room = cli(live, "ochieng", "open-room", "--kind", "local", "--parent", live["coast"]).split()[-1]
    cli(live, "ochieng", "add-pending", room)
    canary = "CANARY-" + os.urandom(8).hex()
    cli(live, "ochieng", "send", room, f"before {canary}")
    assert cli(live, "wanjiru", "tail", room).strip().endswith(f"before {canary}")  # and backs the secret up

    # A new device: a fresh state file, logged in, then restored from the key.
    cli(live, "wanjiru-new", "login", "--server", live["url"], "--handle", "wanjiru")
    assert "no keys yet" in cli_refused(live, "wanjiru-new", "tail", room)
    wrong = "7" * 32
    assert "does not open your backup" in cli_refused(live, "wanjiru-new", "restore", recovery_key=wrong)
    assert "32 letters and digits" in cli_refused(live, "wanjiru-new", "restore", recovery_key="not a key")
    assert cli(live, "wanjiru", "devices").strip().endswith("version 1")  # the refusals changed nothing
    # Typed the way people type: small letters, spaces instead of dashes.
    typed = recovery_key.lower().replace("-", " ")
    assert "in device list version 2" in cli(live, "wanjiru-new", "restore", recovery_key=typed)
    lines = cli(live, "wanjiru-new", "tail", room).strip().splitlines()
    assert lines[-1].endswith(f"before {canary}"), lines
    listed = cli(live, "wanjiru-new", "devices").strip().splitlines()
    assert len(listed) == 3 and listed[-1] == "version 2" and sum("(this device)" in line for line in listed) == 1

    # The admin's next rotation includes the restored device, which then reads new messages too.
    cli(live, "ochieng", "add-pending", room)
    cli(live, "ochieng", "send", room, "after the restore")
    assert cli(live, "wanjiru-new", "tail", room).strip().splitlines()[-1].endswith("after the restore")
    assert canary not in live["log"].read_text()
