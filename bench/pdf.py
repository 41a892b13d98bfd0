"""The demands PDF: our pipeline against plain WeasyPrint on the same HTML, in the same run.

    .venv/bin/python bench/pdf.py [articles ...]      (default: 30 100)

Seeds a campaign with N articles (Markdown text, rationale, grievances in several categories) into
a throwaway SQLite file, then measures for each N:

- ours: `bargaining.documents.render_demands_pdf`, everything a generation pays: the canonical
  content and its hash (database reads), Markdown rendering and sanitizing, the template, and
  WeasyPrint through union/pdf.py's checking URL fetcher, PDF/UA-1 with tags;
- plain: WeasyPrint alone on the very HTML our pipeline produced, same write options, with a bare
  fetcher that reads the same static files without checks.

Time is the median of 5 interleaved runs of each, without tracemalloc. Memory is the tracemalloc
peak (Python heap) of one run each, measured apart. Native memory (HarfBuzz, Pillow) is not in
that figure: a peak-RSS figure per path in one process is not meaningful once the heap has grown
(a forked child reuses its parent's resident pages), so it is left out rather than printed wrong.
The ratio ours/plain is the overhead of our pipeline; the target is under 1.2.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "union.settings")
os.environ["TESSERA_DEBUG"] = "0"
_tmp = tempfile.NamedTemporaryFile(prefix="tessera-bench-pdf-", suffix=".sqlite3", delete=False)  # noqa: SIM115
os.environ["DATABASE_URL"] = f"sqlite:///{_tmp.name}"
_media = tempfile.mkdtemp(prefix="tessera-bench-media-")
os.environ["TESSERA_MEDIA_ROOT"] = _media

import django  # noqa: E402

django.setup()

import mimetypes  # noqa: E402

from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.utils import translation  # noqa: E402
from weasyprint import HTML  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

from bargaining import documents  # noqa: E402
from bargaining.models import Campaign, Demand  # noqa: E402
from bargaining.services import campaign_create, demand_create  # noqa: E402
from grievances.defaults import ensure_defaults  # noqa: E402
from grievances.models import Category, Grievance  # noqa: E402
from membership.models import Local, Member, Union  # noqa: E402
from membership.services import role_grant  # noqa: E402
from tests.factories import make_unit, make_user  # noqa: E402
from union.pdf import BASE_URL, GENERATED_PREFIX, STATIC_PREFIX, watermark_svg  # noqa: E402

WATERMARK = watermark_svg("DRAFT")  # the seeded campaigns are English drafts

TEXT = ("Every worker reviewing **graphic content** gets a paid break of *fifteen minutes* after each "
        "hour of review, taken at a time they choose.\n\n- no quota penalty for the break\n- a quiet room "
        "on site\n- access to a [licensed counsellor](https://union.example/care) within 48 hours")
RATIONALE = "Cases filed this year show that quotas leave no time to recover after the worst queues."


class BareFetcher(URLFetcher):
    """Plain WeasyPrint's view of our files: read them, no checks; the DRAFT watermark image our
    pipeline serves under /generated/ is served here too, so both paths draw the same pages."""

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if GENERATED_PREFIX in url:
            body, kind = WATERMARK[url.split(GENERATED_PREFIX, 1)[1]]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": kind})
        found = finders.find(url.split(STATIC_PREFIX, 1)[1])
        if found is None:
            raise FileNotFoundError(url)
        path = Path(found)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": kind})


def seed(articles: int) -> Campaign:
    union = Union.objects.create(name=f"Bench Union {articles}", slug=f"bench-{articles}")
    local = Local.objects.create(union=union, name="Nairobi", slug="nairobi")
    ensure_defaults(union)
    rep = make_user(f"rep{articles}")
    Member.objects.create(user=rep, union=union, local=local, pseudonym=f"Rep {articles}", status="active")
    role_grant(actor=None, user=rep, local=local, role="representative")
    unit = make_unit(local)
    categories = list(Category.objects.filter(union=union))
    Grievance.objects.bulk_create([
        Grievance(union=union, local=local, category=categories[i % len(categories)], title="x",
                  status=Grievance.Status.OPEN) for i in range(200)])
    campaign = campaign_create(actor=rep, local=local, name=f"Contract 2027 ({articles} articles)", units=[unit],
                               committee=[rep])
    for i in range(articles):
        demand_create(actor=rep, campaign=campaign, title=f"Demand number {i + 1}: paid recovery time",
                      category=list(Demand.Category)[i % 7], text=TEXT, rationale=RATIONALE if i % 2 else "",
                      cost_estimate="USD 40,000 a year")
    return campaign


def ours(campaign: Campaign) -> bytes:
    return documents.render_demands_pdf(campaign, version=1)[0]


def our_html(campaign: Campaign) -> str:
    content = documents.canonical_content(campaign)
    digest = documents.content_digest(content)
    with translation.override(campaign.language):
        return render_to_string(documents.TEMPLATE, documents.render_context(campaign, content, digest=digest,
                                                                             version=1))


def plain(html: str, identifier: bytes) -> bytes:
    return HTML(string=html, base_url=BASE_URL, url_fetcher=BareFetcher()).write_pdf(
        pdf_variant="pdf/ua-1", pdf_identifier=identifier)


def median_seconds(first: Callable[[], object], second: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Median seconds of each, runs interleaved so that load from other processes hits both alike."""
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, into in ((first, runs[0]), (second, runs[1])):
            start = time.perf_counter()
            fn()
            into.append(time.perf_counter() - start)
    return statistics.median(runs[0]), statistics.median(runs[1])


def page_count(pdf: bytes) -> int | str:
    if not shutil.which("pdfinfo"):
        return "?"
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def heap_peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [30, 100]
    call_command("migrate", verbosity=0)
    print(f"{'articles':>8} {'pages':>5} | {'ours s':>7} {'plain s':>7} {'ratio':>5} | "
          f"{'ours heap MB':>12} {'plain heap MB':>13} {'ratio':>5}")
    for n in sizes:
        campaign = seed(n)
        html = our_html(campaign)
        identifier = documents.content_digest(documents.canonical_content(campaign))[:32].encode()
        pdf = ours(campaign)
        assert pdf == plain(html, identifier), "the two paths must produce the same PDF"
        pages = page_count(pdf)
        t_ours, t_plain = median_seconds(partial(ours, campaign), partial(plain, html, identifier))
        m_ours = heap_peak_mb(partial(ours, campaign))
        m_plain = heap_peak_mb(partial(plain, html, identifier))
        print(f"{n:>8} {pages:>5} | {t_ours:>7.2f} {t_plain:>7.2f} {t_ours / t_plain:>5.2f} | "
              f"{m_ours:>12.1f} {m_plain:>13.1f} {m_ours / m_plain:>5.2f}")
    os.unlink(_tmp.name)
    shutil.rmtree(_media, ignore_errors=True)


if __name__ == "__main__":
    main()
