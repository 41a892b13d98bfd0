"""The roll at 100,000 members: page times, search, query counts, streamed export, import rate.

    .venv/bin/python bench/roll.py [members]

Seeds `members` (default 100,000) members with encrypted legal name, email and phone (the cost of
encryption and blind indexes is part of the seeding figure) into a throwaway SQLite file, or into
the PostgreSQL database named by DATABASE_URL when it is set. Pages are fetched through the real
view (Django test client, an organizer with a verified two-factor session). Baselines are measured
in the same run: the deep page against the first page, the 100,000-member roll against a
100-member one, the full export against a tenth of it.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
os.environ["TESSERA_DEBUG"] = "0"  # DEBUG keeps every query in memory, which would skew the export figure
_tmp = None
if not os.environ.get("DATABASE_URL"):
    _tmp = tempfile.NamedTemporaryFile(prefix="tessera-bench-", suffix=".sqlite3", delete=False)  # noqa: SIM115
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp.name}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from membership import roll  # noqa: E402
from membership.models import BargainingUnit, ClientPlatform, Employer, Local, Member, Union, User  # noqa: E402
from membership.services import role_grant, roll_import  # noqa: E402

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


def seed(local: Local, units: list[BargainingUnit], n: int, tag: str) -> float:
    start = time.perf_counter()
    for first in range(0, n, 5000):
        batch = []
        for i in range(first, min(n, first + 5000)):
            m = Member(union_id=local.union_id, local=local, unit=units[0] if i % 10 == 0 else units[1 + i % 9],
                       pseudonym=f"{NAMES[i * 7 % 20]}-{i:06d}", legal_name=f"Person {tag} {i}",
                       status=Member.Status.ACTIVE, languages=",en,")
            m.set_email(f"p{i}@{tag}.example.org")
            m.set_phone(f"+2547{1 if tag == 'big' else 2}{i:08d}")
            batch.append(m)
        with transaction.atomic():
            Member.objects.bulk_create(batch, batch_size=1000)
    return time.perf_counter() - start


def structure(union: Union, name: str) -> tuple[Local, list[BargainingUnit]]:
    local = Local.objects.create(union=union, name=name, slug=name)
    employer = Employer.objects.create(union=union, name=f"Vendor {name}")
    client = ClientPlatform.objects.create(union=union, name=f"Platform {name}")
    units = [BargainingUnit.objects.create(local=local, employer=employer, client=client, project=f"Queue {q}",
                                           country="KE", headcount=20000) for q in range(10)]
    return local, units


def officer_client(locals_: list[Local]) -> Client:
    user = User.objects.create_user("benchofficer", "bench passphrase long 1")
    for local in locals_:
        role_grant(actor=None, user=user, local=local, role="organizer")
    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
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


def export(client: Client, url: str, params: dict[str, str]) -> tuple[float, int, int]:
    """Seconds, peak traced bytes and rows for one streamed export, consumed as a client would."""
    tracemalloc.start()
    start = time.perf_counter()
    response = client.get(url, params)
    lines = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - start
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, lines - 1


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    union = Union.objects.create(name="Bench Union", slug="bench")
    big, big_units = structure(union, "big")
    small, small_units = structure(union, "small")
    seed_s = seed(big, big_units, n, "big")
    seed(small, small_units, 100, "small")
    client = officer_client([big, small])
    big_url = reverse("membership:roll_list", kwargs={"local_code": big.code})
    small_url = reverse("membership:roll_list", kwargs={"local_code": small.code})
    client.get(big_url)  # warm up caches (content types, templates)

    deep_row = Member.objects.filter(local=big).order_by("pseudonym", "id").values("pseudonym", "id")[n - 100]
    deep_cursor = roll.encode_cursor(Member(pseudonym=deep_row["pseudonym"], pk=deep_row["id"]))
    first = timed(lambda: client.get(big_url))
    deep = timed(lambda: client.get(big_url, {"after": deep_cursor}))
    probe = f"p{n // 2}@big.example.org"
    search = timed(lambda: client.get(big_url, {"q": probe}))
    html = client.get(big_url, {"q": probe}).content.decode()
    assert html.count('href="/roll/members/') == 1 and f"-{n // 2:06d}" in html, "the search must find one member"
    plain_filter = timed(lambda: client.get(big_url, {"status": "lapsed"}))

    q_small = queries(client, small_url, {})
    q_big = queries(client, big_url, {})
    q_small_deep = queries(client, small_url, {"after": deep_cursor, "unit": str(small_units[0].code)})
    q_big_deep = queries(client, big_url, {"after": deep_cursor, "unit": str(big_units[0].code)})

    export_url = reverse("membership:roll_export", kwargs={"local_code": big.code})
    tenth_s, tenth_peak, tenth_rows = export(client, export_url, {"unit": str(big_units[0].code)})
    full_s, full_peak, full_rows = export(client, export_url, {})

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

    engine = connection.vendor
    print(f"roll bench: {n:,} members on {engine}")
    print(f"seed (encrypt 3 fields + 2 blind indexes, bulk_create)  {n / seed_s:10,.0f} members/s  ({seed_s:.1f} s)")
    print(f"roll page, first                 {first * 1000:8.1f} ms")
    print(f"roll page, deep (row {n - 100:,})     {deep * 1000:8.1f} ms   {deep / first:5.2f}x first page")
    print(f"search, exact email (blind index) {search * 1000:7.1f} ms   {search / plain_filter:5.2f}x a status filter "
          f"({plain_filter * 1000:.1f} ms)")
    print(f"queries per page: 100 members {q_small}, {n:,} members {q_big}; deep+filtered {q_small_deep} vs {q_big_deep}"
          f"  -> {'equal' if (q_small, q_small_deep) == (q_big, q_big_deep) else 'DIFFERENT'}")
    print(f"export {tenth_rows:>7,} rows  {tenth_s:6.2f} s  {tenth_rows / tenth_s:8,.0f} rows/s  peak {tenth_peak / 1e6:6.2f} MB")
    print(f"export {full_rows:>7,} rows  {full_s:6.2f} s  {full_rows / full_s:8,.0f} rows/s  peak {full_peak / 1e6:6.2f} MB"
          f"   peak ratio {full_peak / tenth_peak:.2f}x for {full_rows / tenth_rows:.0f}x the rows")
    print(f"import {rows:,} rows: check {rows / parse_s:,.0f} rows/s, commit {rows / commit_s:,.0f} rows/s, "
          f"overall {rows / (parse_s + commit_s):,.0f} rows/s")


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    finally:
        if _tmp is not None:
            connection.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(_tmp.name + suffix).unlink(missing_ok=True)
