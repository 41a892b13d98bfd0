"""The priorities survey at scale: answering one by one and all at once, counting, the results page.

    .venv/bin/python bench/consultation.py [members]

Seeds one campaign with 10 demands in consultation and `members` members (default 1,000) in its
unit, opens an anonymous ranking survey, and measures: the median time of one answer (the service:
survey row locked, has-answered row, answer rows); on PostgreSQL, answers from 8 threads at once
(each answer holds the survey row's lock, so they queue: this is the price of "a close waits for
answers in flight"); the tally; and the representative's results page with 100 answers and with all
of them (its number of queries must not grow). The database is thrown away, as in bench/grievances.py.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
os.environ["TESSERA_DEBUG"] = "0"
_tmp = None
if not os.environ.get("DATABASE_URL"):
    _tmp = tempfile.NamedTemporaryFile(prefix="bench-consultation-", suffix=".sqlite3", delete=False)  # noqa: SIM115
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp.name}"

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from bargaining import consultation as svc  # noqa: E402
from bargaining.models import Campaign  # noqa: E402
from membership.models import Member, User  # noqa: E402
from tests.bargaining.factories import make_campaign, make_demand  # noqa: E402
from tests.base import build_personas, login_as  # noqa: E402
from tests.factories import make_member  # noqa: E402

DEMANDS = 10
THREADS = 8


def page(client: Client, url: str) -> tuple[float, int]:
    times: list[float] = []
    queries: list[str] = []

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    # (An execute wrapper, not CaptureQueriesContext: the request ends by closing the connection.)
    with connection.execute_wrapper(count):
        client.get(url)
    for _ in range(5):
        start = time.perf_counter()
        assert client.get(url).status_code == 200  # noqa: S101
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(queries)


def main(total: int) -> None:
    old_name = connection.settings_dict["NAME"]
    if _tmp is None:
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    try:
        personas = build_personas()
        campaign = make_campaign(personas)
        for i in range(DEMANDS):
            make_demand(personas, campaign, title=f"Demand {i + 1}")
        Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.CONSULTATION)
        unit = campaign.units.get()
        people = [make_member(personas.local, handle=f"bench{i}") for i in range(total)]
        Member.objects.filter(user__in=people).update(unit=unit)
        survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking")
        ids = list(survey.demands.order_by("number").values_list("pk", flat=True))

        def answer(user: User, shift: int) -> None:
            order = ids[shift % DEMANDS:] + ids[:shift % DEMANDS]
            svc.survey_respond(user=user, survey=survey, values={pk: rank for rank, pk in enumerate(order, 1)})

        rep = login_as(Client(), personas.representative)
        url = reverse("bargaining:survey_results", kwargs={"code": survey.code})
        times = []
        for i, user in enumerate(people[:100]):
            start = time.perf_counter()
            answer(user, i)
            times.append(time.perf_counter() - start)
        small = page(rep, url)
        rest = people[100:]
        if connection.vendor == "postgresql" and rest:
            chunks = [rest[i::THREADS] for i in range(THREADS)]

            def run(chunk: list[User]) -> None:
                try:
                    for j, user in enumerate(chunk):
                        answer(user, j)
                finally:
                    connections.close_all()

            start = time.perf_counter()
            threads = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            burst = len(rest) / (time.perf_counter() - start)
        else:
            start = time.perf_counter()
            for j, user in enumerate(rest):
                answer(user, j)
            burst = len(rest) / (time.perf_counter() - start) if rest else 0.0
        start = time.perf_counter()
        tally = svc.survey_tally(survey)
        tally_ms = (time.perf_counter() - start) * 1000
        big = page(rep, url)
        engine = connection.vendor
        print(f"({engine}) {DEMANDS} demands, {tally['responses']} answers")
        print(f"one answer, median of 100:  {statistics.median(times) * 1000:7.1f} ms")
        how = f"{THREADS} threads" if engine == "postgresql" else "one by one"
        print(f"answers/s, the other {len(rest)} ({how}): {burst:7.0f}")
        print(f"tally of {tally['responses']} answers:      {tally_ms:7.1f} ms")
        print(f"results page, 100 answers:   {small[0] * 1000:7.1f} ms, {small[1]} queries")
        print(f"results page, {tally['responses']} answers: {big[0] * 1000:7.1f} ms, {big[1]} queries")
        if small[1] != big[1]:
            print("  <- query count grows with the answers!")
            sys.exit(1)
    finally:
        if _tmp is None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        else:
            connections.close_all()
            Path(_tmp.name).unlink(missing_ok=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000)
