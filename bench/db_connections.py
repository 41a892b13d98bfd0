"""Database connections under Daphne: closed per request, kept (CONN_MAX_AGE), or a pool.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/db_connections.py
    # options: --requests 600 --concurrency 1 10 30 --modes close keep pool

Under ASGI, Django runs each HTTP request's view in a thread of its own, so a connection kept
open (CONN_MAX_AGE) belongs to a thread that is gone when the next request comes; Django's
documentation recommends a connection pool instead (Django 5.1+, psycopg_pool). For each mode
this script starts Tessera in Daphne on a fresh PostgreSQL database (dropped afterwards), sends
the same requests at several concurrencies over keep-alive connections, and prints the time, the
throughput, p50/p95 latency, the errors, the connections PostgreSQL saw opened
(`pg_stat_database.sessions`) and those still open afterwards (`pg_stat_activity`).

Two pages: `/healthz` (one query and a channel-layer round trip) and a member's home page
(session, user, member and the page's own queries).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # as in bench/realtime.py, whose helpers this script borrows once Django is set up

MODES = {
    "close": {"TESSERA_DB_CONN_MAX_AGE": "0", "TESSERA_DB_POOL": "0"},
    "keep": {"TESSERA_DB_CONN_MAX_AGE": "60", "TESSERA_DB_POOL": "0"},
    "pool": {"TESSERA_DB_CONN_MAX_AGE": "0", "TESSERA_DB_POOL": "1"},
}


BENCH_DB = f"bench_db_connections_{os.getpid()}"


def fresh_database(url: str) -> tuple[str, Callable[[], None]]:
    """A new database on `url`'s server, and the function that drops it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{BENCH_DB}"')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')

    return urlunsplit(urlsplit(url)._replace(path=f"/{BENCH_DB}")), drop


def open_now(pg: Any) -> int:
    assert pg.connection is not None
    row = pg.connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


def hammer(port: int, path: str, cookie: str, total: int, concurrency: int) -> tuple[list[float], int, float]:
    """`total` GETs over `concurrency` keep-alive connections; latencies (s), errors, wall time."""
    per_worker = [total // concurrency + (1 if n < total % concurrency else 0) for n in range(concurrency)]

    def worker(count: int) -> tuple[list[float], int]:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        times: list[float] = []
        errors = 0
        headers = {"Cookie": cookie} if cookie else {}
        for _ in range(count):
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors += 1
                    if errors == 1:
                        print(f"{path}: HTTP {response.status} {response.getheader('Location', '')}", flush=True)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            times.append(time.perf_counter() - started)
        conn.close()
        return times, errors

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(worker, per_worker))
    wall = time.perf_counter() - started
    return [t for times, _ in results for t in times], sum(e for _, e in results), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--pool-max", default="10")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("skipped: bench/db_connections.py measures PostgreSQL connections; set DATABASE_URL=postgres://...")
        return

    database_url, drop_database = fresh_database(os.environ["DATABASE_URL"])
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "union.settings", "DATABASE_URL": database_url, "TESSERA_DEBUG": "0",
        "TESSERA_LOG_LEVEL": "ERROR", "TESSERA_DB_POOL_MAX": args.pool_max,
    })
    os.environ.pop("REDIS_URL", None)  # the in-memory layer: /healthz measures the database, not Redis
    # Importing bench/realtime.py sets Django up (it builds its bare application): only now, with
    # DATABASE_URL naming the fresh database.
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    from django.core.management import call_command
    from django.db import connections

    from bench.realtime import PgSessions, seed, start_daphne, stop

    try:
        assert connections["default"].settings_dict["NAME"] == BENCH_DB, "not the bench's own database"
        call_command("migrate", verbosity=0)
        _, cookies = seed(1)
        connections.close_all()
        pg = PgSessions(database_url)
        print(f"Daphne (one process) + PostgreSQL; {args.requests} GETs per row over N keep-alive "
              f"connections; pool max {args.pool_max}", flush=True)
        print("| mode | page | N | seconds | req/s | p50 ms | p95 ms | errors | connections opened | open after |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for mode in args.modes:
            env = {**os.environ, **MODES[mode]}
            process, port = start_daphne(ROOT, "union.asgi:application", env, str(ROOT))
            try:
                for page, path, cookie in (("/healthz", "/healthz", ""), ("home (member)", "/", cookies[0])):
                    hammer(port, path, cookie, 20, 2)  # warm-up: imports, templates, the pool's first connections
                    for concurrency in args.concurrency:
                        before = pg.read() or 0
                        times, errors, wall = hammer(port, path, cookie, args.requests, concurrency)
                        opened = (pg.read() or 0) - before
                        cuts = statistics.quantiles([t * 1000 for t in times], n=100, method="inclusive")
                        row: list[Any] = [mode, page, concurrency, f"{wall:.2f}", f"{len(times) / wall:.0f}",
                                          f"{cuts[49]:.1f}", f"{cuts[94]:.1f}", errors, opened, open_now(pg)]
                        print("| " + " | ".join(str(x) for x in row) + " |", flush=True)
            finally:
                stop(process)
                time.sleep(0.5)
    finally:
        connections.close_all()
        drop_database()


if __name__ == "__main__":
    main()
