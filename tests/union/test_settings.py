"""Production settings: refusal without keys, the deployment checks, and generate_keys.

Settings are evaluated once per process, so the production cases run `manage.py check` in a
subprocess with a clean environment. Each costs about a second; keep their number small.
"""

from __future__ import annotations

import ast
import base64
import io
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django import Settings

from union import crypto

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("TESSERA_SECRET_KEY", "TESSERA_DATA_KEYS", "TESSERA_BLIND_INDEX_KEY", "TESSERA_ALLOWED_HOSTS")
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")


def _b64key(n: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


def _production_env(**overrides: str | None) -> dict[str, str]:
    """A copy of os.environ without any Tessera or database setting, plus a valid production set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k not in NOT_INHERITED}
    env.update(
        TESSERA_ENV="production",
        TESSERA_SECRET_KEY=secrets.token_urlsafe(60),
        TESSERA_DATA_KEYS=f"k2026a:{_b64key()}",
        TESSERA_BLIND_INDEX_KEY=_b64key(),
        TESSERA_ALLOWED_HOSTS="tessera.example",
        # Production mode without DATABASE_URL would name the development SQLite file; `check`
        # does not open it, but point elsewhere anyway so no test can touch it.
        DATABASE_URL="sqlite:////nonexistent/tessera-test.sqlite3",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("missing", REQUIRED)
def test_it_refuses_production_without_each_required_variable(missing: str) -> None:
    result = _manage(_production_env(**{missing: None}), "check")
    assert result.returncode != 0
    assert "refuses to start in production" in result.stderr
    assert missing in result.stderr
    # Only the missing one is named: the message must point at the actual problem.
    for other in set(REQUIRED) - {missing}:
        assert f"without: {other}" not in result.stderr and f", {other}" not in result.stderr


def test_it_treats_a_blank_variable_as_missing() -> None:
    result = _manage(_production_env(TESSERA_SECRET_KEY="   "), "check")
    assert result.returncode != 0
    assert "TESSERA_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("key", ["x" * 49, "short-but-set", "ab" * 40, "django-insecure-" + secrets.token_urlsafe(60)],
                         ids=["49-characters", "short", "two-characters", "django-insecure-prefix"])
def test_it_refuses_a_weak_secret_key_in_production(key: str) -> None:
    result = _manage(_production_env(TESSERA_SECRET_KEY=key), "check")
    assert result.returncode != 0
    assert "TESSERA_SECRET_KEY must be at least 50 random characters" in result.stderr
    assert key not in result.stderr  # the key itself is never printed


def test_it_refuses_debug_in_production() -> None:
    result = _manage(_production_env(TESSERA_DEBUG="1"), "check")
    assert result.returncode != 0
    assert "TESSERA_DEBUG must not be on in production" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("TESSERA_DATA_KEYS", "k2026a:this is not base64!", "not valid base64"),
        ("TESSERA_DATA_KEYS", f"k2026a:{_b64key(16)}", "must be 32 bytes"),
        ("TESSERA_BLIND_INDEX_KEY", "short!", "is not valid base64"),
    ],
    ids=["not-base64", "wrong-length", "blind-index-key"],
)
def test_it_refuses_a_malformed_key(variable: str, value: str, complaint: str) -> None:
    result = _manage(_production_env(**{variable: value}), "check")
    assert result.returncode != 0
    assert complaint in result.stderr
    assert "data key 'k2026a'" in result.stderr or variable in result.stderr


def _generated() -> dict[str, str]:
    out = io.StringIO()
    call_command("generate_keys", stdout=out)
    text = out.getvalue()
    pairs = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert set(pairs) == {"TESSERA_SECRET_KEY", "TESSERA_DATA_KEYS", "TESSERA_BLIND_INDEX_KEY"}
    return pairs


def test_it_accepts_generated_keys_and_passes_the_deployment_checks() -> None:
    """Round trip: generate_keys output, as an env file would pass it, satisfies production."""
    keys = _generated()
    result = _manage(_production_env(**keys), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stderr and "?:" not in result.stderr


def test_generate_keys_prints_valid_fresh_keys() -> None:
    first, second = _generated(), _generated()
    ring = crypto._parse_ring(first["TESSERA_DATA_KEYS"])
    assert len(ring.keys) == 1
    assert re.fullmatch(r"k\d{4}a", ring.primary_id)
    assert len(crypto._decode_key(first["TESSERA_BLIND_INDEX_KEY"], "index")) == 32
    assert len(first["TESSERA_SECRET_KEY"]) >= 50
    # Env-file and shell safe: no characters a shell or systemd would interpret.
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first["TESSERA_SECRET_KEY"])
    for name in first:
        assert first[name] != second[name]
    assert first["TESSERA_DATA_KEYS"] != first["TESSERA_BLIND_INDEX_KEY"]


def test_generate_keys_rotate_puts_a_new_primary_first_and_keeps_the_old(settings: Settings) -> None:
    current = f"k2026a:{_b64key()},old1:{_b64key()}"
    settings.TESSERA_DATA_KEYS = current
    blob = crypto.encrypt_text("canary-legal-name", aad="test.rotate")
    out = io.StringIO()
    call_command("generate_keys", "--rotate", current, stdout=out)
    lines = [line for line in out.getvalue().splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("TESSERA_DATA_KEYS=")
    rotated = lines[0].removeprefix("TESSERA_DATA_KEYS=")
    new_first, *rest = rotated.split(",")
    assert rest == current.split(",")
    ring = crypto._parse_ring(rotated)
    assert ring.primary_id not in ("k2026a", "old1")
    assert re.fullmatch(r"k\d{4}[a-z]+", ring.primary_id)
    # The rotated ring still decrypts old values and encrypts new ones under the new key.
    settings.TESSERA_DATA_KEYS = rotated
    assert crypto.decrypt_text(blob, aad="test.rotate") == "canary-legal-name"
    assert crypto.key_id_of(crypto.encrypt_text("x", aad="test.rotate")) == ring.primary_id


def test_generate_keys_rotate_refuses_a_malformed_ring() -> None:
    with pytest.raises(CommandError, match="not valid base64"):
        call_command("generate_keys", "--rotate", "k2026a:nope!", stdout=io.StringIO())


def test_the_env_example_documents_every_variable_settings_reads() -> None:
    source = (ROOT / "union" / "settings.py").read_text()
    read = set(re.findall(r"\"((?:TESSERA|DJANGO)_[A-Z0-9_]+|DATABASE_URL|REDIS_URL)\"", source))
    read.add("DATABASE_URL")  # read by dj_database_url.config() without naming it
    read.discard("DJANGO_SETTINGS_MODULE")
    example = (ROOT / "deploy" / "tessera.env.example").read_text()
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert read - documented == set()
    assert documented - read == set(), "the example documents variables settings.py does not read"


def test_production_keeps_database_connections_and_checks_them_before_reuse() -> None:
    # Daphne's socket thread would otherwise open a PostgreSQL connection per database call.
    probe = ("from django.conf import settings as s; d = s.DATABASES['default']; "
             "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], s.TESSERA_WS_RECHECK_SECONDS)")
    result = _manage(_production_env(), "shell", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["60", "True", "5.0"]
    result = _manage(_production_env(TESSERA_DB_CONN_MAX_AGE="0", TESSERA_WS_RECHECK_SECONDS="2"), "shell", "-c", probe)
    assert result.stdout.splitlines()[-1].split() == ["0", "True", "2.0"]


POOL_PROBE = ("from django.conf import settings as s; d = s.DATABASES['default']; p = d.get('OPTIONS', {}).get('pool'); "
              "p = p and {**p, 'check': repr(p['check'])}; print(repr((d['CONN_MAX_AGE'], p)))")
# Settings only: nothing listens on port 1, and nothing here may connect.
POSTGRES_URL = "postgres://tessera@127.0.0.1:1/tessera"


def _pool_settings(**env: str) -> tuple[int, dict[str, float] | None]:
    result = _manage(_production_env(DATABASE_URL=POSTGRES_URL, **env), "shell", "-c", POOL_PROBE)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.splitlines()[-1])


def test_production_on_postgresql_borrows_connections_from_a_pool() -> None:
    # Under Daphne each request runs in a thread of its own: kept connections were never reused
    # (a new one per request) and piled up; pooled ones are (bench/db_connections.py).
    assert _pool_settings() == (0, {"min_size": 2, "max_size": 10, "timeout": 10.0, "check": "CheckAfterIdle(2)"})
    assert _pool_settings(TESSERA_DB_POOL_MIN="1", TESSERA_DB_POOL_MAX="4", TESSERA_DB_POOL_TIMEOUT="2.5",
                          TESSERA_DB_POOL_CHECK_AFTER="0") == (
        0, {"min_size": 1, "max_size": 4, "timeout": 2.5, "check": "CheckAfterIdle(0)"})
    # The pool's own check replaces Django's (which would check every borrow; both at once is an error).
    result = _manage(_production_env(DATABASE_URL=POSTGRES_URL), "shell", "-c",
                     "from django.conf import settings as s; print(s.DATABASES['default']['CONN_HEALTH_CHECKS'])")
    assert result.stdout.splitlines()[-1] == "False"
    assert _pool_settings(TESSERA_DB_POOL="0") == (60, None)  # the persistent connections instead


def test_the_pool_refuses_persistent_connections() -> None:
    result = _manage(_production_env(DATABASE_URL=POSTGRES_URL, TESSERA_DB_CONN_MAX_AGE="60"), "check")
    assert result.returncode != 0 and "TESSERA_DB_CONN_MAX_AGE must be 0" in result.stderr


def test_sqlite_and_development_have_no_pool() -> None:
    result = _manage(_production_env(), "shell", "-c", POOL_PROBE)  # production on SQLite
    assert result.stdout.splitlines()[-1] == "(60, None)"
    development = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k not in NOT_INHERITED}
    result = _manage({**development, "DATABASE_URL": POSTGRES_URL}, "shell", "-c", POOL_PROBE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "(0, None)"
