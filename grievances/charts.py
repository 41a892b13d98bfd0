"""Figures for the grievance dashboard, aggregated in SQL, their SVG charts, and the CSV export.

Every figure starts from `grievance_list_visible_to(user)`, so a restricted case counts only for
those who may open it. Each figure is one query, whatever the number of cases; the deadline flags
need the date that is "due soon" per country, computed in Python from the holidays library for
the few countries of the local's units and passed to SQL as plain dates.

The charts are SVG with presentation attributes and classes, never a style attribute (strict
CSP), hidden from screen readers: the page puts a table with the same numbers beside each one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from grievances.deadlines import DUE_SOON_WORKING_DAYS, WORKING, add_days
from grievances.models import Grievance
from grievances.selectors import grievance_list_visible_to
from membership.models import Local
from union import charts

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

MONTHS = 12
EXPORT_CHUNK = 500


@dataclass
class Bar:
    label: str
    count: int


def cases_for(user: Any, local: Local, filters: dict[str, Any]) -> QuerySet[Grievance]:
    """The local's filed cases this user may see, narrowed by the dashboard's filters. No drafts."""
    qs = grievance_list_visible_to(user).filter(local=local).exclude(status=Grievance.Status.DRAFT)
    if filters.get("unit"):
        qs = qs.filter(unit=filters["unit"])
    if filters.get("category"):
        qs = qs.filter(category=filters["category"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("opened_from"):
        qs = qs.filter(opened_at__date__gte=filters["opened_from"])
    if filters.get("opened_to"):
        qs = qs.filter(opened_at__date__lte=filters["opened_to"])
    return qs


def _bars(rows: Any, label: str) -> list[Bar]:
    return [Bar(label=_(row[label]) if row[label] else _("Not recorded"), count=row["n"]) for row in rows]


def by_step(qs: QuerySet[Grievance]) -> list[Bar]:
    """Open cases per workflow step, in workflow order."""
    rows = (qs.filter(status=Grievance.Status.OPEN).values("step__position", "step__name")
            .annotate(n=Count("pk")).order_by("step__position"))
    return _bars(rows, "step__name")


def by_category(qs: QuerySet[Grievance]) -> list[Bar]:
    rows = qs.values("category__position", "category__name").annotate(n=Count("pk")).order_by("category__position")
    return _bars(rows, "category__name")


def by_employer(qs: QuerySet[Grievance]) -> list[Bar]:
    rows = qs.values("employer__name").annotate(n=Count("pk")).order_by("-n", "employer__name")
    return _bars(rows, "employer__name")


def due_soon_limits(local: Local, today: date) -> dict[str, date]:
    """Per country of the local's units, the last due date that is still "due soon" today."""
    # The day before the next working day after the limit: a deadline that falls on a weekend or
    # holiday right after the third working day is still within three working days.
    countries = set(local.units.values_list("country", flat=True)) | {""}
    return {c: add_days(today, DUE_SOON_WORKING_DAYS + 1, kind=WORKING, country=c) - timedelta(days=1)
            for c in countries}


def deadlines(qs: QuerySet[Grievance], limits: dict[str, date], today: date) -> dict[str, int]:
    """Open cases overdue, due soon and on time, as `Grievance.deadline_state` would say, in one query."""
    soon = Q()
    for country, limit in limits.items():
        where = Q(unit__country=country) if country else (Q(unit__isnull=True) | Q(unit__country=""))
        soon |= where & Q(due_date__lte=limit)
    open_ = Q(status=Grievance.Status.OPEN)
    counts = qs.aggregate(
        overdue=Count("pk", filter=open_ & Q(due_date__lt=today)),
        due_soon=Count("pk", filter=open_ & Q(due_date__gte=today) & soon),
        open=Count("pk", filter=open_),
    )
    counts["ok"] = counts["open"] - counts["overdue"] - counts["due_soon"]
    return counts


def _month_starts(today: date, months: int) -> list[date]:
    index = today.year * 12 + today.month - 1 - (months - 1)
    return [date((index + i) // 12, (index + i) % 12 + 1, 1) for i in range(months)]


def per_month(qs: QuerySet[Grievance], today: date, *, months: int = MONTHS) -> list[tuple[date, int]]:
    """Cases opened per calendar month over the last `months` months, empty months included."""
    starts = _month_starts(today, months)
    rows = (qs.filter(opened_at__date__gte=starts[0]).annotate(month=TruncMonth("opened_at"))
            .values("month").annotate(n=Count("pk")).order_by())
    counts: dict[date, int] = {}
    for row in rows:
        month = row["month"]
        key = (timezone.localtime(month) if timezone.is_aware(month) else month).date().replace(day=1)
        counts[key] = counts.get(key, 0) + row["n"]
    return [(start, counts.get(start, 0)) for start in starts]


# ---------------------------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------------------------

# Bar charts are drawn narrow so their text stays readable when a phone shrinks them to ~340px.
WIDTH = 400
MONTHS_WIDTH = 600
ROW = 30
LABEL_WIDTH = 170
LABEL_CHARS = 24


def bars_svg(bars: list[Bar], *, title: str, css: str = "bar") -> SafeString:
    """Horizontal bars: label on the left, bar, and the count written after the bar."""
    return charts.hbars([(b.label, b.count) for b in bars], title=title, width=WIDTH, row=ROW,
                        label_width=LABEL_WIDTH, label_chars=LABEL_CHARS, css=css)


def months_svg(months: list[tuple[date, int]], *, title: str) -> SafeString:
    """Vertical bars, one per month, with the count above each bar and the month's short name below
    ("Feb 26" in English, "Fév 26" in French: Django's translated month abbreviations)."""
    cols = [charts.Column(label=date_format(start, "M y"), count=count) for start, count in months]
    return charts.columns(cols, title=title, width=MONTHS_WIDTH, height=160, base=135, tallest=110, gap=6,
                          count_size=15, label_size=13, label_gap=8)


# ---------------------------------------------------------------------------------------------
# CSV export: facts about each case, never its narrative, remedy, notes or grievants' names
# ---------------------------------------------------------------------------------------------

COLUMNS = ["number", "title", "status", "step", "category", "employer", "unit", "country", "confidentiality",
           "incident_date", "contract_article", "opened", "due_date", "deadline", "outcome", "settlement_amount",
           "closed", "steward", "grievants"]


def _day(value: Any) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).date().isoformat() if hasattr(value, "tzinfo") else value.isoformat()


class GrievantCount(TypedDict):
    grievant_count: int


def export_queryset(qs: QuerySet[Grievance]) -> QuerySet[WithAnnotations[Grievance, GrievantCount]]:
    # `only` keeps the encrypted columns (narrative, remedy) out of the SELECT: they are never
    # read, so never decrypted, whatever a later edit of the row function does by mistake.
    return (qs.select_related("step", "category", "employer", "unit", "steward")
            .only("number", "title", "status", "confidentiality", "incident_date", "contract_article", "opened_at",
                  "due_date", "outcome", "settlement_amount", "closed_at", "step__name", "category__name",
                  "employer__name", "unit__project", "unit__country", "steward__handle")
            .annotate(grievant_count=Count("grievant", distinct=True)).order_by("opened_at", "pk"))


def case_row(g: WithAnnotations[Grievance, GrievantCount], today: date) -> list[Any]:
    return [
        g.number, g.title, g.status, g.step.name if g.step is not None else "", g.category.name,
        g.employer.name if g.employer is not None else "", g.unit.project if g.unit is not None else "", g.country,
        g.confidentiality,
        _day(g.incident_date), g.contract_article, _day(g.opened_at), _day(g.due_date), g.deadline_state(today),
        g.outcome, g.settlement_amount if g.settlement_amount is not None else "", _day(g.closed_at),
        g.steward.handle if g.steward is not None else "", g.grievant_count,
    ]


def export_rows(qs: QuerySet[Grievance], today: date) -> Iterator[list[Any]]:
    """The rows of the CSV file, read a chunk at a time so memory stays flat.

    `union.csv.CsvResponse` neutralises every cell for spreadsheets and streams the rows, under
    Daphne as an async iterator.
    """
    for grievance in export_queryset(qs).iterator(chunk_size=EXPORT_CHUNK):
        yield case_row(grievance, today)
