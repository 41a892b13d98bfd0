"""Deadline arithmetic: calendar days, or working days that skip weekends and public holidays.

Public holidays come from the `holidays` library for the unit's country (ISO 3166 alpha-2), so
Kenyan, Philippine, French, Colombian or Malagasy holidays, including moving ones like Eid or
Easter, are right without a hand-made table. Weekends are Saturday and Sunday everywhere we
organize today; a country with another weekend would need `WEEKEND` per country.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

CALENDAR = "calendar"
WORKING = "working"
WEEKEND = frozenset({5, 6})  # Saturday, Sunday
DUE_SOON_WORKING_DAYS = 3
# A search bound, far beyond any contract deadline, so a bad rule cannot loop forever.
MAX_SPAN_DAYS = 3660


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country.upper(), years=year)
    except NotImplementedError:
        # A country the library does not know: weekends only, rather than refusing to compute.
        return holidays.HolidayBase(years=year)


def holiday_name(day: date, country: str) -> str | None:
    return _holidays(country, day.year).get(day) if country else None


def is_working_day(day: date, country: str) -> bool:
    return day.weekday() not in WEEKEND and holiday_name(day, country) is None


def add_days(start: date, days: int, *, kind: str, country: str) -> date:
    """The deadline `days` after `start` (the triggering event's date).

    Calendar: plain addition. Working: count forward only over working days, so 1 working day
    after a Friday is the next Monday, or Tuesday when Monday is a holiday. Zero days means the
    same day when it is a working day, else the next working day.
    """
    if days < 0:
        raise ValueError("A deadline cannot be negative.")
    if kind == CALENDAR:
        return start + timedelta(days=days)
    if kind != WORKING:
        raise ValueError(f"Unknown kind of days: {kind!r}")
    day, counted = start, 0
    if days == 0:
        while not is_working_day(day, country):
            day += timedelta(days=1)
        return day
    for _step in range(MAX_SPAN_DAYS):
        day += timedelta(days=1)
        if is_working_day(day, country):
            counted += 1
            if counted == days:
                return day
    raise ValueError("Deadline out of range.")


def working_days_between(start: date, end: date, *, country: str) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is earlier)."""
    if end < start:
        return -working_days_between(end, start, country=country)
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=n), country))


def deadline_state(due: date | None, today: date, *, country: str) -> str:
    """"overdue", "due_soon" (within DUE_SOON_WORKING_DAYS working days, today included) or "ok"."""
    if due is None:
        return "ok"
    if due < today:
        return "overdue"
    if due == today or working_days_between(today, due, country=country) <= DUE_SOON_WORKING_DAYS:
        return "due_soon"
    return "ok"
