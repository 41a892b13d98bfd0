"""Cost of encryption at rest: the same ORM work with and without the encrypted email, same run.

    .venv/bin/python bench/crypto.py [rows]

Baseline: users inserted, read and looked up with no email (the encrypted column stays NULL, the
lookup goes by the plain `handle` column). Measured: the same users with an encrypted email and
its blind index, read back decrypted, looked up through the blind index. The ratio is the cost of
AES-GCM and HMAC on top of Django and the database. Uses a throwaway in-memory SQLite database.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
os.environ["DATABASE_URL"] = "sqlite://:memory:"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from membership.models import User  # noqa: E402
from union import crypto  # noqa: E402


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(rows: int) -> None:
    call_command("migrate", verbosity=0)
    step = max(1, rows // 1000)
    probes = range(0, rows, step)

    def insert(prefix: str, encrypted: bool) -> Callable[[], None]:
        def run() -> None:
            users = []
            for i in range(rows):
                user = User(handle=f"{prefix}{i}", password="!")
                if encrypted:
                    user.set_email(f"person{i}@example.org")
                users.append(user)
            with transaction.atomic():
                User.objects.bulk_create(users, batch_size=1000)
        return run

    def read(prefix: str) -> Callable[[], None]:
        def run() -> None:
            qs = User.objects.filter(handle__startswith=prefix).values_list("handle", "email")
            assert sum(1 for _ in qs.iterator()) == rows
        return run

    def lookup_handle() -> None:
        for i in probes:
            User.objects.get(handle=f"p{i}")

    def lookup_email() -> None:
        for i in probes:
            User.objects.get(email_index=crypto.blind_index(f"person{i}@example.org", purpose="email"))

    results = [
        ("insert", rows, timed(insert("p", False)), timed(insert("e", True))),
        ("read all", rows, timed(read("p")), timed(read("e"))),
        ("exact lookup", len(probes), timed(lookup_handle), timed(lookup_email)),
    ]
    print(f"{'operation':14} {'plain/s':>12} {'encrypted/s':>12} {'ratio':>7}   ({rows} rows)")
    for name, count, plain, encrypted in results:
        print(f"{name:14} {count / plain:12,.0f} {count / encrypted:12,.0f} {encrypted / plain:6.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
