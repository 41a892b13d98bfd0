"""Dates and times in each language's own format: 24-hour times, never "a.m"/"p.m" in Swahili."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django.utils import translation

from membership.models import CardText, Member, UnionCard
from tests.base import Personas, login_as

MOMENT = datetime(2026, 12, 1, 15, 4, tzinfo=UTC)
AM_PM = re.compile(r"\b[ap]\.\s?m\b|\b[AP]M\b", re.IGNORECASE)


@pytest.mark.parametrize("language", ["en", "fr", "sw", "es"])
@pytest.mark.parametrize("fmt", ["TIME_FORMAT", "DATETIME_FORMAT", "SHORT_DATETIME_FORMAT"])
def test_times_use_a_24_hour_clock(language: str, fmt: str) -> None:
    with translation.override(language):
        shown = date_filter(MOMENT, fmt)
    assert "15:04" in shown and not AM_PM.search(shown), f"{language} {fmt}: {shown!r}"


def test_swahili_dates_name_the_month_in_swahili_day_first() -> None:
    with translation.override("sw"):
        assert date_filter(MOMENT, "DATE_FORMAT") == "1 Disemba 2026"
        assert date_filter(MOMENT, "SHORT_DATE_FORMAT") == "01/12/2026"


def test_english_dates_cannot_be_misread_day_for_month() -> None:
    # "12/01/2026" is 12 January in Nairobi and 1 December in Manila: the month is written out.
    with translation.override("en"):
        assert date_filter(date(2026, 12, 1), "SHORT_DATE_FORMAT") == "1 Dec 2026"
        assert date_filter(date(2026, 12, 1), "DATE_FORMAT") == "1 December 2026"


@pytest.mark.django_db
def test_a_swahili_page_shows_the_time_without_am_pm(personas: Personas) -> None:
    member = Member.objects.get(user=personas.member)
    text = CardText.objects.create(union=member.union, version=1, language="sw", title="Kadi", body="Ninajiunga.")
    UnionCard.objects.create(member=member, card_text=text, signed_at=MOMENT, signed={
        "title": "Kadi", "body": "Ninajiunga.", "version": 1, "language": "sw", "signature": "A. Mwanachama",
        "consents": {}, "signed_at": MOMENT.isoformat()})
    page = login_as(Client(), personas.member).get("/me/", HTTP_ACCEPT_LANGUAGE="sw").content.decode()
    assert '<html lang="sw">' in page
    assert "1 Disemba 2026, 15:04" in page
    assert not AM_PM.search(page)
