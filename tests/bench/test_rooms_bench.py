"""bench/rooms.py still runs end to end, at a tiny size: the README's rooms figures come from it,
and it runs production's setup (two Daphnes, Redis, the connection pool on PostgreSQL), which the
test client does not. It once found a pool setting that broke every query; this keeps it honest.
Figures are not checked here (speed lives in benchmarks); only that every message arrived."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.services import redis_url

ROOT = Path(__file__).resolve().parents[2]


def test_the_rooms_benchmark_runs_and_delivers_everything() -> None:
    env = {**os.environ, "REDIS_URL": redis_url(), "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "bench/rooms.py", "--clients", "12", "--senders", "4", "--rate", "4",
                             "--seconds", "2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| rate", "| saturation"))]
    assert len(rows) == 4, result.stdout  # each mode, each server
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3] == "100.0%", row  # delivered: every message to every client
    assert "PostgreSQL (pool)" in result.stdout or "SQLite" in result.stdout
    assert "catch-up pages 0" in result.stdout, result.stdout
