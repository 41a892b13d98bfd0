"""Grievance pages at scale: the case list and the dashboard with 100 and then 10,000 cases.

    .venv/bin/python bench/grievances.py [cases]

Seeds one union with two locals, five bargaining units in four countries and `cases` grievances
(default 10,000: open, closed and restricted, spread over a year, with an encrypted narrative and
remedy), in bulk. Baseline: the same pages, same officer, same run, with the first 100 cases only.
Prints the median time of each page and its number of queries, which must not grow with the
number of cases, plus the CSV export of every case.

The database is thrown away: a temporary SQLite file by default, or, when DATABASE_URL is set, a
new `test_...` database on that server (PostgreSQL), created and dropped by Django's test runner
machinery, so the configured database itself is never touched.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
os.environ["TESSERA_DEBUG"] = "0"  # as served: no query log, no template debugging
_tmp = None
if not os.environ.get("DATABASE_URL"):
    _tmp = tempfile.NamedTemporaryFile(prefix="bench-grievances-", suffix=".sqlite3", delete=False)  # noqa: SIM115
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp.name}"

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from grievances.defaults import ensure_defaults  # noqa: E402
from grievances.models import Category, Grievance, Grievant, Step  # noqa: E402
from membership.models import Member  # noqa: E402
from tests.base import Personas, build_personas, login_as  # noqa: E402
from tests.factories import make_unit  # noqa: E402

BASELINE = 100
RUNS = 5
NARRATIVE = "A long account of what happened on the night shift, the queue, the quota and the manager. " * 8


def seed(personas: Personas, start: int, stop: int, rng: random.Random) -> None:
    """Cases number `start` to `stop - 1`, in bulk, as the services would leave them."""
    local, union = personas.local, personas.local.union
    units = list(local.units.all())
    categories = list(Category.objects.filter(union=union))
    steps = list(Step.objects.filter(union=union))
    members = list(Member.objects.filter(local=local))
    stewards = [personas.steward, personas.local_admin, None]
    now, today = timezone.now(), timezone.localdate()
    cases = []
    for i in range(start, stop):
        unit, opened = rng.choice(units), now - timedelta(days=rng.randrange(365), minutes=rng.randrange(1440))
        closed = rng.random() < 0.3
        cases.append(Grievance(
            number=f"GRV-B-{i:06d}", union=union, local=local, unit=unit, employer_id=unit.employer_id,
            category=rng.choice(categories), filed_by=personas.member, title=f"Case {i}", narrative=NARRATIVE,
            remedy="Pay what is owed", confidentiality=Grievance.Confidentiality.RESTRICTED if rng.random() < 0.05
            else Grievance.Confidentiality.NORMAL, status=Grievance.Status.CLOSED if closed else Grievance.Status.OPEN,
            step=rng.choice(steps), step_started=opened.date(), opened_at=opened, created_at=opened,
            due_date=None if closed else today + timedelta(days=rng.randrange(-20, 40)),
            outcome=Grievance.Outcome.WON if closed else "", closed_at=now if closed else None,
            steward=rng.choice(stewards),
        ))
    with transaction.atomic():
        Grievance.objects.bulk_create(cases, batch_size=500)
        made = Grievance.objects.filter(number__in=[c.number for c in cases]).values_list("pk", flat=True)
        Grievant.objects.bulk_create([Grievant(grievance_id=pk, member=rng.choice(members)) for pk in made],
                                     batch_size=1000)


def measure(client: Client, url: str, *, stream: bool = False) -> tuple[float, int]:
    """Median seconds of RUNS requests (after one warm-up) and the queries of one request."""
    def once() -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if stream:
            b"".join(response)

    once()
    queries = []

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - t, sql))

    with connection.execute_wrapper(count):
        once()
    times = []
    for _i in range(RUNS):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    if os.environ.get("BENCH_SLOW"):
        for took, sql in sorted(queries, reverse=True)[:3]:
            print(f"  {took * 1000:7.1f} ms  {sql[:300]}")
    return statistics.median(times), len(queries)


def main(total: int) -> None:
    from django.db import connections

    old_name = connection.settings_dict["NAME"]
    if _tmp is None:  # PostgreSQL (or another server): a throwaway test database beside the real one
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    try:
        rng = random.Random(4)
        personas = build_personas()
        ensure_defaults(personas.local.union)
        for country in ("KE", "KE", "PH", "FR", "CO"):
            make_unit(personas.local, country=country)
        client = login_as(Client(), personas.local_admin)
        pages = {
            "case list": (reverse("grievances:case_list"), False),
            "dashboard": (reverse("grievances:dash_local", kwargs={"code": personas.local.code}), False),
            "CSV export": (reverse("grievances:dash_export", kwargs={"code": personas.local.code}), True),
        }
        seed(personas, 0, BASELINE, rng)
        base = {name: measure(client, url, stream=s) for name, (url, s) in pages.items()}
        for start in range(BASELINE, total, 2000):
            seed(personas, start, min(start + 2000, total), rng)
        big = {name: measure(client, url, stream=s) for name, (url, s) in pages.items()}
        engine = connection.vendor
        print(f"{'page':12} {BASELINE:>7} cases {total:>7} cases {'ratio':>7} {'queries':>9}   ({engine})")
        for name in pages:
            (t0, q0), (t1, q1) = base[name], big[name]
            flag = "" if q0 == q1 else "  <- query count grows with the cases!"
            print(f"{name:12} {t0 * 1000:9.1f} ms {t1 * 1000:9.1f} ms {t1 / t0:6.1f}x {q0:>4} {q1:>4}{flag}")
        export_rate = total / big["CSV export"][0]
        print(f"CSV export: {export_rate:,.0f} cases/s (narratives never read)")
        if any(base[n][1] != big[n][1] for n in pages):
            sys.exit(1)
    finally:
        if _tmp is None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        else:
            connections.close_all()
            Path(_tmp.name).unlink(missing_ok=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
