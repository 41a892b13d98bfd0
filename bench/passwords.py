"""Argon2 parameters under a login storm: time per hash and peak memory of 16 logins at once.

    .venv/bin/python bench/passwords.py [parallel]

For each candidate (memory cost, time cost, parallelism) a fresh Python process hashes one password
alone (time per hash), then `parallel` (default 16) at once in threads as Daphne would run 16
login views, with no bound and then through `union.limits.heavy_work` (2 slots). Each process
reports its peak resident memory (ru_maxrss) above its baseline after imports. Baseline: Django's
default Argon2 parameters (m=100 MiB, t=2, p=8), measured in the same run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

CANDIDATES = [
    (102400, 2, 8, "Django default"),
    (47104, 1, 1, "OWASP m=46 MiB t=1 (chosen)"),
    (19456, 2, 1, "OWASP m=19 MiB t=2"),
    (12288, 3, 1, "OWASP m=12 MiB t=3"),
]


def child(memory_cost: int, time_cost: int, parallelism: int, parallel: int, bounded: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
    import django

    django.setup()
    from argon2.low_level import Type, hash_secret

    from union.limits import heavy_work

    def one() -> None:
        hash_secret(b"correct horse battery staple", os.urandom(16), time_cost=time_cost, memory_cost=memory_cost,
                    parallelism=parallelism, hash_len=32, type=Type.ID)

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    one()
    single = time.perf_counter() - start

    def login() -> None:
        if bounded:
            with heavy_work(wait=120):
                one()
        else:
            one()

    threads = [threading.Thread(target=login) for _ in range(parallel)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    storm = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"single": single, "storm": storm, "peak_mb": (peak - base) / 1024, "base_mb": base / 1024}))


def run(memory_cost: int, time_cost: int, parallelism: int, parallel: int, bounded: bool) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", str(memory_cost), str(time_cost), str(parallelism),
                          str(parallel), "1" if bounded else "0"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(parallel: int) -> None:
    print(f"argon2id, {parallel} logins at once, {os.cpu_count()} cores; peak RSS above the process baseline")
    print(f"{'parameters':32} {'one hash':>9} {'storm, unbounded':>22} {'storm, 2 slots':>22}")
    for memory_cost, time_cost, parallelism, label in CANDIDATES:
        free = run(memory_cost, time_cost, parallelism, parallel, False)
        bound = run(memory_cost, time_cost, parallelism, parallel, True)
        print(f"{label:32} {free['single'] * 1000:7.0f}ms "
              f"{free['storm']:8.2f}s {free['peak_mb']:8.0f} MB   {bound['storm']:8.2f}s {bound['peak_mb']:8.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        m, t, p, n, b = (int(x) for x in sys.argv[2:7])
        child(m, t, p, n, bool(b))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
