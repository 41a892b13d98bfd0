"""Figures for the organizing dashboard, aggregated in SQL, and their server-rendered SVG charts.

The charts are plain SVG markup with presentation attributes (fill, stroke) and classes, never a
style attribute, so they pass the strict CSP. Each chart is decorative for screen readers
(`aria-hidden`): the page puts an HTML table with the same numbers beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from membership.models import BargainingUnit, Local, SignatureTally, SupportTally
from membership.tally import COUNTING_STATUSES  # noqa: F401 (kept importable from here)
from union import charts

WEEKS = 12


def cards_needed(headcount: int, percent: int | None) -> int | None:
    """Cards needed to reach `percent` of the headcount; 50% means a strict majority (half + 1)."""
    if percent is None:
        return None
    if percent == 50:
        return headcount // 2 + 1
    return max(1, math.ceil(headcount * percent / 100))


@dataclass
class UnitProgress:
    unit: BargainingUnit
    signed: int
    needed: int
    milestone: int | None

    @property
    def remaining(self) -> int:
        return max(self.needed - self.signed, 0)

    @property
    def reached(self) -> bool:
        return self.signed >= self.needed

    @property
    def percent_of_headcount(self) -> int | None:
        return round(100 * self.signed / self.unit.headcount) if self.unit.headcount else None


def unit_progress(local: Local) -> list[UnitProgress]:
    """Per unit of the local, members with a valid signed card. One query whatever the roll size.

    The figure is the unit's tally (membership/tally.py), kept by the services in the same
    transaction as each change, so the page reads one row per unit instead of counting cards.
    """
    units = list(BargainingUnit.objects.filter(local=local).select_related("employer", "client")
                 .annotate(signed=Coalesce("tally__signed", 0)).order_by("employer__name", "project", "pk"))
    return [
        UnitProgress(unit=u, signed=u.signed, needed=cards_needed(u.headcount, u.threshold_percent) or 1,
                     milestone=cards_needed(u.headcount, u.milestone_percent))
        for u in units
    ]


def closest_to_threshold(progress: list[UnitProgress]) -> list[UnitProgress]:
    """Units still short of their threshold, fewest cards to go first; units already there last."""
    return sorted(progress, key=lambda p: (p.reached, p.remaining, -p.signed / p.needed))


@dataclass
class Week:
    start: datetime
    count: int


def weekly_signatures(local: Local, *, weeks: int = WEEKS, now: datetime | None = None) -> list[Week]:
    """Cards signed (and not revoked) per week over the last `weeks` weeks, empty weeks included.

    Sums the local's 15-minute signature tallies (membership/tally.py) into weeks of the current
    time zone, at most 96 rows a day, instead of reading every card of the last weeks.
    """
    now = timezone.localtime(now or timezone.now())
    this_week = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    first = this_week - timedelta(weeks=weeks - 1)
    rows = (
        SignatureTally.objects.filter(local=local, period__gte=first)
        .annotate(week=TruncWeek("period")).values("week").annotate(n=Sum("signed")).order_by()
    )
    counts = {timezone.localtime(row["week"]).date(): row["n"] for row in rows}
    return [Week(start=first + timedelta(weeks=i), count=counts.get((first + timedelta(weeks=i)).date(), 0))
            for i in range(weeks)]


def support_summary(local: Local) -> dict[int, int]:
    """How many contacts of the local sit at each level, by their latest assessment. One query.

    Reads the local's support tally (membership/tally.py, one row per level), kept by
    `support_assess`, erasure and sign-up cleanup, instead of finding every contact's latest
    assessment (27 ms at 5,000 assessed contacts).
    """
    rows = SupportTally.objects.filter(local=local).exclude(members=0).values_list("level__value", "members")
    return dict(rows)


# ---------------------------------------------------------------------------------------------
# SVG rendering
# ---------------------------------------------------------------------------------------------

# Narrow drawings: on a phone the SVG is shown at about its own width, so its text stays readable.
WIDTH = 360
ROW = 46
LABEL_CHARS = 44


def progress_svg(progress: list[UnitProgress], *, title: str) -> SafeString:
    """Horizontal bars: headcount (pale), valid cards (dark), threshold (solid line), milestone (dashed)."""
    height = ROW * len(progress) + 10
    rows = []
    for i, p in enumerate(progress):
        top = 10 + i * ROW
        scale = max(p.unit.headcount, p.needed, p.signed, 1)
        bar = (WIDTH - 2) * min(p.signed, scale) / scale
        threshold_x = 1 + (WIDTH - 2) * p.needed / scale
        milestone = ""
        if p.milestone is not None:
            mx = 1 + (WIDTH - 2) * p.milestone / scale
            milestone = format_html(
                '<line class="chart-milestone" x1="{0}" x2="{0}" y1="{1}" y2="{2}" stroke="#8a5300" '
                'stroke-width="2" stroke-dasharray="4 3"/>', charts.n(mx), top + 14, top + 40)
        rows.append(format_html(
            '<g><text x="0" y="{top_text}" font-size="13" fill="#1d1d1f">{label}</text>'
            '<rect x="1" y="{bar_top}" width="{full}" height="22" fill="#e9e6dd" stroke="#8a877e"/>'
            '<rect class="chart-signed" x="1" y="{bar_top}" width="{bar}" height="22" fill="#9b1c31"/>'
            '{milestone}'
            '<line class="chart-threshold" x1="{tx}" x2="{tx}" y1="{line_top}" y2="{line_bottom}" '
            'stroke="#1d1d1f" stroke-width="3"/></g>',
            top_text=top + 10, label=charts.short(f"{i + 1}. {p.unit.project or p.unit}", LABEL_CHARS),
            bar_top=top + 16, full=WIDTH - 2, bar=charts.n(bar), milestone=milestone, tx=charts.n(threshold_x),
            line_top=top + 12, line_bottom=top + 42,
        ))
    return charts.svg(width=WIDTH, height=height, title=title, body=charts.join(rows))


def weekly_svg(weeks: list[Week], *, title: str) -> SafeString:
    """Vertical bars, one per week, with the count written above each bar and every other week's date."""
    cols = [charts.Column(label=date_format(w.start, "j M") if i % 2 == len(weeks) % 2 else "", count=w.count)
            for i, w in enumerate(weeks)]
    return charts.columns(cols, title=title, width=WIDTH, height=170, base=140, tallest=115, gap=4, count_size=12,
                          label_size=10, label_gap=12)
