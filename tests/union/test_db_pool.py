"""The connection pool's check (union/db.py) on a real PostgreSQL: a connection lent again within
the window costs no round trip; one that sat idle longer is checked, and a dead one is dropped and
replaced before anyone gets it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.services import need
from union.db import CheckAfterIdle

pytestmark = pytest.mark.django_db  # for DATABASE_URL's server; the pool below is our own


@pytest.fixture
def server() -> Iterator[str]:
    from django.db import connection

    need(connection.vendor == "postgresql", "the pool is PostgreSQL's (set DATABASE_URL)")
    params = connection.get_connection_params()
    yield " ".join(f"{key}={params[key]}" for key in ("host", "port", "user", "dbname") if params.get(key))


def pool(conninfo: str, seconds: float) -> Any:
    from psycopg_pool import ConnectionPool

    return ConnectionPool(conninfo, min_size=1, max_size=1, check=CheckAfterIdle(seconds), open=True,
                          kwargs={"autocommit": True})


def last_statement(conninfo: str, pid: int) -> str:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("seconds", [60.0, 0.0], ids=["within-the-window", "checked-every-time"])
def test_a_connection_lent_again_soon_costs_no_round_trip(server: str, seconds: float) -> None:
    marker = f"SELECT 'lent {os.getpid()} {seconds}'"
    with pool(server, seconds) as p:
        with p.connection() as conn:
            pid = conn.info.backend_pid
            conn.execute(marker)
        with p.connection() as conn:
            assert conn.info.backend_pid == pid
        # The server's record of the backend's last statement: the check's empty one, or still ours.
        assert (last_statement(server, pid) == marker) is (seconds > 0)


def test_a_connection_that_died_while_idle_is_replaced_before_it_is_lent(server: str) -> None:
    import psycopg

    with pool(server, 0.2) as p:
        with p.connection() as conn:
            dead = conn.info.backend_pid
        with psycopg.connect(server, autocommit=True) as other:  # as a restart or a firewall would
            assert other.execute("SELECT pg_terminate_backend(%s)", [dead]).fetchone() == (True,)
        time.sleep(0.3)
        with p.connection() as conn:
            assert conn.info.backend_pid != dead
            assert conn.execute("SELECT 1").fetchone() == (1,)



# Through Django, as production runs it: settings -> union.postgresql -> psycopg_pool with our check.
# A pool of one connection: borrow it, run a marked statement, return it (as database_sync_to_async
# does after each call), borrow it again, and ask the server, from aside, what it last ran.
THROUGH_DJANGO = """
import psycopg
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT 'marked by the test'")
pid = connection.connection.info.backend_pid
connection.close()
connection.ensure_connection()
assert connection.connection.info.backend_pid == pid
with psycopg.connect(CONNINFO, autocommit=True) as aside:
    print(repr(aside.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]))
connection.close()
"""


@pytest.mark.parametrize("after", ["60", "0"], ids=["within-the-window", "checked-every-time"])
def test_djangos_pool_uses_the_check_from_settings(server: str, after: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from django.db import connection

    params = connection.get_connection_params()
    url = f"postgres://{params['user']}@{params.get('host') or '127.0.0.1'}:{params.get('port') or 5432}/postgres"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update(DATABASE_URL=url, TESSERA_DB_POOL="1", TESSERA_DB_CONN_MAX_AGE="0", TESSERA_DB_POOL_MIN="1",
               TESSERA_DB_POOL_MAX="1", TESSERA_DB_POOL_CHECK_AFTER=after)
    script = THROUGH_DJANGO.replace("CONNINFO", repr(server))
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], env=env, text=True,
                            capture_output=True, timeout=60, cwd=Path(__file__).resolve().parents[2], check=False)
    assert result.returncode == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    # Within the window the second borrow sent nothing; checked every time, the check's empty statement.
    assert last == (repr("SELECT 'marked by the test'") if after != "0" else repr("")), last
