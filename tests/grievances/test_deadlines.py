"""Deadline arithmetic across Kenyan, French and Philippine public holidays."""

from __future__ import annotations

from datetime import date

import pytest

from grievances.deadlines import CALENDAR, WORKING, add_days, deadline_state, holiday_name, working_days_between


class TestWorkingDays:
    def test_it_skips_the_weekend(self) -> None:
        friday = date(2026, 11, 20)
        assert add_days(friday, 1, kind=WORKING, country="KE") == date(2026, 11, 23)  # Monday

    @pytest.mark.parametrize(
        "country,start,days,expected,holiday",
        [
            # Kenya: Jamhuri Day falls on Saturday 12 Dec 2026; Christmas Fri 25, Boxing Day Sat 26.
            ("KE", date(2026, 12, 23), 2, date(2026, 12, 28), "Christmas Day"),
            # Kenya: Mashujaa Day, Tuesday 20 October 2026.
            ("KE", date(2026, 10, 19), 1, date(2026, 10, 21), "Mashujaa Day"),
            # Kenya: Madaraka Day, Monday 1 June 2026, after a weekend.
            ("KE", date(2026, 5, 29), 1, date(2026, 6, 2), "Madaraka Day"),
            # France: Bastille Day, Tuesday 14 July 2026.
            ("FR", date(2026, 7, 13), 1, date(2026, 7, 15), "National Day"),
            # France: Ascension, Thursday 14 May 2026 (moves with Easter).
            ("FR", date(2026, 5, 13), 1, date(2026, 5, 15), "Ascension"),
            # Philippines: Rizal Day (Wed 30 Dec), New Year's Eve (a special day), New Year's Day.
            ("PH", date(2026, 12, 29), 2, date(2027, 1, 5), "Rizal Day"),
        ],
    )
    def test_it_skips_public_holidays(
        self, country: str, start: date, days: int, expected: date, holiday: str
    ) -> None:
        assert add_days(start, days, kind=WORKING, country=country) == expected
        skipped = [holiday_name(date.fromordinal(d), country) for d in range(start.toordinal() + 1, expected.toordinal())]
        assert any(name and holiday.lower() in name.lower() for name in skipped), skipped

    def test_the_same_span_differs_by_country(self) -> None:
        start = date(2026, 7, 13)
        assert add_days(start, 1, kind=WORKING, country="FR") == date(2026, 7, 15)
        assert add_days(start, 1, kind=WORKING, country="KE") == date(2026, 7, 14)

    def test_ten_working_days_over_christmas_in_kenya(self) -> None:
        # 18 Dec 2026 (Fri) + 10 working days: skips three weekends, Christmas and New Year's Day.
        assert add_days(date(2026, 12, 18), 10, kind=WORKING, country="KE") == date(2027, 1, 5)

    def test_zero_days_moves_off_a_holiday(self) -> None:
        assert add_days(date(2026, 12, 25), 0, kind=WORKING, country="KE") == date(2026, 12, 28)

    def test_an_unknown_country_counts_weekends_only(self) -> None:
        assert add_days(date(2026, 12, 24), 1, kind=WORKING, country="ZZ") == date(2026, 12, 25)

    def test_bad_rules_are_refused(self) -> None:
        with pytest.raises(ValueError):
            add_days(date(2026, 1, 1), -1, kind=WORKING, country="KE")
        with pytest.raises(ValueError):
            add_days(date(2026, 1, 1), 1, kind="lunar", country="KE")


class TestCalendarDays:
    def test_it_ignores_weekends_and_holidays(self) -> None:
        assert add_days(date(2026, 12, 24), 2, kind=CALENDAR, country="KE") == date(2026, 12, 26)


class TestDeadlineState:
    def test_overdue_due_soon_and_ok(self) -> None:
        today = date(2026, 12, 21)  # Monday
        assert deadline_state(date(2026, 12, 18), today, country="KE") == "overdue"
        assert deadline_state(today, today, country="KE") == "due_soon"
        # 21 Dec -> 24 Dec is 3 working days; 28 Dec is 4, because Christmas (Fri 25) does not count.
        assert deadline_state(date(2026, 12, 24), today, country="KE") == "due_soon"
        assert deadline_state(date(2026, 12, 28), today, country="KE") == "ok"
        assert deadline_state(date(2026, 12, 28), today, country="ZZ") == "ok"
        assert deadline_state(date(2026, 12, 25), today, country="ZZ") == "ok"
        assert deadline_state(date(2026, 12, 25), today, country="KE") == "due_soon"
        assert deadline_state(None, today, country="KE") == "ok"

    def test_working_days_between(self) -> None:
        assert working_days_between(date(2026, 12, 21), date(2026, 12, 28), country="KE") == 4
        assert working_days_between(date(2026, 12, 28), date(2026, 12, 21), country="KE") == -4
