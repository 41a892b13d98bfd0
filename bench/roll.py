"""The roll at 100,000 members: pages at the middle, narrow filters, search, dashboard, exports through Daphne.

    .venv/bin/python bench/roll.py [members]

Builds a fresh database and drops it afterwards: a new PostgreSQL database next to the one
DATABASE_URL names (which is only used to connect), else a temporary SQLite file. Seeds `members`
(default 100,000) members of one local with encrypted legal name, email and phone (the cost of
encryption and blind indexes is part of the seeding figure), signed cards for 60% of them over the
last 20 weeks and support assessments for 5%, plus a 100-member local. Runs ANALYZE, then times
pages through the real view (Django test client, an organizer with a verified two-factor session),
at the middle of the roll ("next" and "previous") against the first page, and the organizing
dashboard of the big local against the small one. Exports are timed without tracemalloc; their
memory is measured in a separate pass, and the full export is also fetched from a Daphne
subprocess: time to the first byte and to the first row, total time, and the peak RSS of the
Daphne process sampled every 10 ms.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
os.environ["TESSERA_DEBUG"] = "0"  # DEBUG keeps every query in memory, which would skew the export figure
os.environ.pop("REDIS_URL", None)  # the in-memory channel layer: the bench measures the database
_tmp: str | None = None
_pg_admin_url: str | None = None
_pg_bench_db: str | None = None
if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    _pg_admin_url = os.environ["DATABASE_URL"]
    _pg_bench_db = f"tessera_bench_{os.getpid()}"
    with psycopg.connect(_pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{_pg_bench_db}"')
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{_pg_bench_db}"))
else:
    _tmp = tempfile.NamedTemporaryFile(prefix="tessera-bench-", suffix=".sqlite3", delete=False).name  # noqa: SIM115
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402

from membership import charts, roll  # noqa: E402
from membership.devices import Authenticator  # noqa: E402
from membership.models import (  # noqa: E402
    BargainingUnit,
    CardText,
    ClientPlatform,
    Employer,
    Local,
    Member,
    SupportAssessment,
    SupportLevel,
    Union,
    UnionCard,
    User,
)
from membership.services import role_grant, roll_import  # noqa: E402
from membership.tally import recount, tally_rebuild  # noqa: E402

NAMES = ("amani", "baraka", "chege", "dalia", "esther", "faith", "gitau", "hawa", "imani", "juma", "kamau",
         "luz", "maria", "njeri", "otieno", "paz", "rosa", "sofia", "tomas", "wanjiru")


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median seconds of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def best(fn: Callable[[], object], repeat: int = 9) -> float:
    """Fastest of `repeat` runs: on a shared machine, the run least disturbed by other work."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return min(runs)


def seed(local: Local, units: list[BargainingUnit], n: int, tag: str) -> float:
    """Members, 0.5% of them lapsed and 1% speaking Malagasy: the narrow filters have a few rows to find."""
    start = time.perf_counter()
    for first in range(0, n, 5000):
        batch = []
        for i in range(first, min(n, first + 5000)):
            m = Member(union_id=local.union_id, local=local, unit=units[0] if i % 10 == 0 else units[1 + i % 9],
                       pseudonym=f"{NAMES[i * 7 % 20]}-{i:06d}", legal_name=f"Person {tag} {i}",
                       status=Member.Status.LAPSED if i % 200 == 7 else Member.Status.ACTIVE,
                       languages=",mg,fr," if i % 100 == 3 else ",en,sw,")
            m.set_email(f"p{i}@{tag}.example.org")
            m.set_phone(f"+2547{1 if tag == 'big' else 2}{i:08d}")
            batch.append(m)
        with transaction.atomic():
            Member.objects.bulk_create(batch, batch_size=1000)
    return time.perf_counter() - start


def seed_cards(local: Local) -> int:
    """Signed cards for 60% of the local over the last 20 weeks (2% revoked), assessments for 5%."""
    text = CardText.objects.get_or_create(union_id=local.union_id, version=1, language="en",
                                          defaults={"title": "Card", "body": "I join."})[0]
    levels = [SupportLevel.objects.get_or_create(union_id=local.union_id, value=v, defaults={"label": str(v)})[0]
              for v in range(1, 6)]
    rng, now, made = random.Random(7), timezone.now(), 0
    ids = list(Member.objects.filter(local=local).values_list("pk", flat=True))
    for first in range(0, len(ids), 5000):
        cards, assessments = [], []
        for pk in ids[first : first + 5000]:
            if rng.random() < 0.6:
                signed_at = now - timedelta(minutes=rng.randrange(20 * 7 * 24 * 60))
                cards.append(UnionCard(member_id=pk, card_text=text, signed={"name": "x"}, signed_at=signed_at,
                                       revoked_at=signed_at + timedelta(days=1) if rng.random() < 0.02 else None))
            if rng.random() < 0.05:
                assessments.append(SupportAssessment(member_id=pk, level=rng.choice(levels)))
        with transaction.atomic():
            UnionCard.objects.bulk_create(cards, batch_size=1000)
            SupportAssessment.objects.bulk_create(assessments, batch_size=1000)
        made += len(cards)
    return made


def structure(union: Union, name: str) -> tuple[Local, list[BargainingUnit]]:
    local = Local.objects.create(union=union, name=name, slug=name)
    employer = Employer.objects.create(union=union, name=f"Vendor {name}")
    client = ClientPlatform.objects.create(union=union, name=f"Platform {name}")
    units = [BargainingUnit.objects.create(local=local, employer=employer, client=client, project=f"Queue {q}",
                                           country="KE", headcount=20000) for q in range(10)]
    return local, units


def officer_client(local: Local, handle: str) -> Client:
    """An organizer of `local` (an active member of it, as officer rights require) with a verified second factor."""
    user = User.objects.create_user(handle, "bench passphrase long 1")
    Member.objects.create(user=user, union_id=local.union_id, local=local, pseudonym=f"{handle}-p",
                          status=Member.Status.ACTIVE)
    role_grant(actor=None, user=user, local=local, role="organizer")
    device = Authenticator.objects.create(user=user, name="bench", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def queries(client: Client, url: str, params: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params).status_code == 200
    return len(ctx.captured_queries)


def cursor_at(local: Local, row: int) -> str:
    key = Member.objects.filter(local=local).order_by("pseudonym", "id").values("pseudonym", "id")[row]
    return roll.encode_cursor(Member(pseudonym=key["pseudonym"], pk=key["id"]))


def consume(client: Client, url: str, params: dict[str, str]) -> int:
    response = client.get(url, params)
    assert response.status_code == 200
    return sum(chunk.count(b"\n") for chunk in response) - 1


def export_time(client: Client, url: str, params: dict[str, str]) -> tuple[float, int]:
    """Seconds and rows for one streamed export, consumed as a client would; no tracing on."""
    start = time.perf_counter()
    rows = consume(client, url, params)
    return time.perf_counter() - start, rows


def export_peak(client: Client, url: str, params: dict[str, str]) -> int:
    """Peak bytes traced by tracemalloc during one export: a separate pass, tracing slows everything."""
    tracemalloc.start()
    consume(client, url, params)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daphne_export(client: Client, path: str) -> dict[str, float]:
    """The export fetched from a real Daphne: first byte, first row, total, and Daphne's peak RSS."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "union.asgi:application"], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        cookie = f"sessionid={client.cookies['sessionid'].value}"

        def get(target: str) -> http.client.HTTPResponse:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.request("GET", target, headers={"Cookie": cookie, "Host": "127.0.0.1"})
            return conn.getresponse()

        warm = get(path.replace("export.csv", ""))  # the roll page: imports, templates, connection
        warm.read()
        base = rss_mb(proc.pid)
        peak = [base]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak[0] = max(peak[0], rss_mb(proc.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        response = get(path)
        assert response.status == 200, response.status
        first = response.read1(65536)
        first_byte = time.perf_counter() - start
        received, lines = len(first), first.count(b"\n")
        first_row = first_byte if lines >= 2 else None
        while chunk := response.read1(65536):
            received += len(chunk)
            lines += chunk.count(b"\n")
            if first_row is None and lines >= 2:
                first_row = time.perf_counter() - start
        total = time.perf_counter() - start
        sampling.set()
        sampler.join()
        return {"first_byte": first_byte, "first_row": first_row or total, "total": total, "rows": lines - 1,
                "base_mb": base, "peak_mb": peak[0]}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    union = Union.objects.create(name="Bench Union", slug="bench")
    big, big_units = structure(union, "big")
    small, small_units = structure(union, "small")
    seed_s = seed(big, big_units, n, "big")
    seed(small, small_units, 100, "small")
    cards = seed_cards(big) + seed_cards(small)
    tally_rebuild()  # the seed bulk-creates past the services, which keep the dashboard's unit tallies
    with connection.cursor() as cursor:
        # Planner statistics and (PostgreSQL) the visibility map, as autovacuum keeps them on a live database.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    client, small_client = officer_client(big, "benchofficer"), officer_client(small, "benchsmall")
    big_url = reverse("membership:roll_list", kwargs={"local_code": big.code})
    small_url = reverse("membership:roll_list", kwargs={"local_code": small.code})
    client.get(big_url)  # warm up caches (content types, templates)

    middle = cursor_at(big, n // 2)
    name_probe = f"-{n // 2 + 13:06d}"[:-1]  # ten members share this stem
    probe = f"p{n // 2}@big.example.org"
    # Each case: the page through the view (median), and its roll query alone (best of 9), which
    # is what the indexes change and what is least disturbed by other work on a shared machine.
    cases: dict[str, tuple[dict[str, str], dict[str, Any], dict[str, str]]] = {
        "roll page, first": ({}, {}, {}),
        "roll page, next from the middle": ({"after": middle}, {}, {"after": middle}),
        "roll page, previous from the middle": ({"before": middle}, {}, {"before": middle}),
        "unit filter, next from the middle": ({"unit": str(big_units[0].code), "after": middle},
                                              {"unit": big_units[0]}, {"after": middle}),
        "status filter (0.5% lapsed)": ({"status": "lapsed"}, {"status": "lapsed"}, {}),
        "language filter (1% Malagasy)": ({"language": "mg"}, {"language": "mg"}, {}),
        f"pseudonym search (10 of {n:,})": ({"q": name_probe}, {"q": name_probe}, {}),
        "exact email search (blind index)": ({"q": probe}, {"q": probe}, {}),
    }
    html = client.get(big_url, {"q": probe}).content.decode()
    assert html.count('href="/roll/members/') == 1 and f"-{n // 2:06d}" in html, "the search must find one member"
    html = client.get(big_url, {"q": name_probe}).content.decode()
    assert html.count('href="/roll/members/') == 10, "the pseudonym search must find ten members"
    def query_page(filters: dict[str, Any], position: dict[str, str]) -> roll.KeysetPage:
        return roll.keyset_page(roll.roll_queryset(big, filters), after=position.get("after", ""),
                                before=position.get("before", ""))

    results = {}
    for label, (params, filters, position) in cases.items():
        results[label] = (timed(partial(client.get, big_url, params)), best(partial(query_page, filters, position)))

    dash_big_url = reverse("membership:dash_local", kwargs={"code": big.code})
    dash_small_url = reverse("membership:dash_local", kwargs={"code": small.code})
    client.get(dash_big_url)
    dash_big = timed(lambda: client.get(dash_big_url))
    dash_small = timed(lambda: small_client.get(dash_small_url))
    dash_parts = {
        name: (best(partial(fn, big), 5), best(partial(fn, small), 5))
        for name, fn in (("cards per unit", charts.unit_progress), ("cards per week", charts.weekly_signatures),
                         ("support summary", charts.support_summary))
    }
    # Before the tallies: the cards per unit counted from the rows (local-scoped, no COUNT DISTINCT).
    recount_parts = (best(partial(recount, big), 5), best(partial(recount, small), 5))
    assert recount(big) == {p.unit.pk: p.signed for p in charts.unit_progress(big) if p.signed}, "tally drifted"
    q_dash_big, q_dash_small = queries(client, dash_big_url, {}), queries(small_client, dash_small_url, {})

    q_small = queries(small_client, small_url, {})
    q_big = queries(client, big_url, {})
    q_small_deep = queries(small_client, small_url, {"after": middle, "unit": str(small_units[0].code)})
    q_big_deep = queries(client, big_url, {"after": middle, "unit": str(big_units[0].code)})
    q_big_prev = queries(client, big_url, {"before": middle})

    export_url = reverse("membership:roll_export", kwargs={"local_code": big.code})
    tenth_s, tenth_rows = export_time(client, export_url, {"unit": str(big_units[0].code)})
    full_s, full_rows = export_time(client, export_url, {})
    tenth_peak = export_peak(client, export_url, {"unit": str(big_units[0].code)})
    full_peak = export_peak(client, export_url, {})
    connection.close()  # Daphne reads the same database; SQLite would otherwise wait on our lock
    daphne = daphne_export(client, export_url)

    rows = 5000
    csv_text = "pseudonym,legal_name,email,phone,unit,languages\n" + "".join(
        f"imp-{i:05d},Imported {i},imp{i}@new.example.org,+2557{i:08d},{big_units[1]},sw en\n" for i in range(rows))
    start = time.perf_counter()
    preview = roll.parse_csv(csv_text, big)
    parse_s = time.perf_counter() - start
    actor = User.objects.get(handle="benchofficer")
    start = time.perf_counter()
    created = roll_import(actor=actor, local=big, rows=preview.rows)
    commit_s = time.perf_counter() - start
    assert len(created) == rows

    ms = 1000
    print(f"roll bench: {n:,} members on {connection.vendor}, {cards:,} signed cards, after ANALYZE")
    print(f"seed (encrypt 3 fields + 2 blind indexes, bulk_create)  {n / seed_s:10,.0f} members/s  ({seed_s:.1f} s)")
    first = results["roll page, first"]
    for label, (view, query) in results.items():
        print(f"{label:40} view {view * ms:7.1f} ms ({view / first[0]:4.2f}x first)   "
              f"query {query * ms:7.2f} ms ({query / first[1]:5.2f}x first)")
    print(f"organizing dashboard, {n:,} members: view {dash_big * ms:.1f} ms ({q_dash_big} queries); "
          f"100 members: view {dash_small * ms:.1f} ms ({q_dash_small} queries)")
    for name, (on_big, on_small) in dash_parts.items():
        print(f"  {name:16} {on_big * ms:8.1f} ms at {n:,} members, {on_small * ms:6.1f} ms at 100")
    print(f"  all three       {sum(b for b, _s in dash_parts.values()) * ms:8.1f} ms at {n:,} members, "
          f"{sum(s for _b, s in dash_parts.values()) * ms:6.1f} ms at 100")
    print(f"  (before: cards per unit counted from the rows {recount_parts[0] * ms:.1f} ms at {n:,} members, "
          f"{recount_parts[1] * ms:.1f} ms at 100; the tallies read one row per unit)")
    print(f"queries per page: 100 members {q_small}, {n:,} members {q_big}; deep+filtered {q_small_deep} vs "
          f"{q_big_deep}; previous {q_big_prev} -> "
          f"{'equal' if (q_small, q_small_deep) == (q_big, q_big_deep) and q_big_prev == q_big else 'DIFFERENT'}")
    print(f"export {tenth_rows:>7,} rows  {tenth_s:6.2f} s  {tenth_rows / tenth_s:8,.0f} rows/s  peak {tenth_peak / 1e6:6.2f} MB")
    print(f"export {full_rows:>7,} rows  {full_s:6.2f} s  {full_rows / full_s:8,.0f} rows/s  peak {full_peak / 1e6:6.2f} MB"
          f"   peak ratio {full_peak / tenth_peak:.2f}x for {full_rows / tenth_rows:.0f}x the rows (test client)")
    print(f"export {daphne['rows']:>7,.0f} rows through Daphne: first byte {daphne['first_byte'] * ms:.0f} ms, first row "
          f"{daphne['first_row'] * ms:.0f} ms, total {daphne['total']:.2f} s; Daphne RSS {daphne['base_mb']:.0f} -> "
          f"peak {daphne['peak_mb']:.0f} MB (+{daphne['peak_mb'] - daphne['base_mb']:.0f} MB)")
    print(f"import {rows:,} rows: check {rows / parse_s:,.0f} rows/s, commit {rows / commit_s:,.0f} rows/s, "
          f"overall {rows / (parse_s + commit_s):,.0f} rows/s")


def cleanup() -> None:
    connection.close()
    if os.environ.get("TESSERA_BENCH_KEEP"):  # to EXPLAIN the queries afterwards; drop it by hand
        print(f"kept {os.environ['DATABASE_URL']}")
        return
    if _tmp is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(_tmp + suffix).unlink(missing_ok=True)
    if _pg_bench_db is not None and _pg_admin_url is not None:
        with psycopg.connect(_pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{_pg_bench_db}" WITH (FORCE)')


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    finally:
        cleanup()
