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
