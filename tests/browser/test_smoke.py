"""Smoke test: a member logs in through the real form and switches the site to Swahili."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing

pytestmark = pytest.mark.browser

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def catalog_text(language: str, msgid: str) -> str:
    """The translation shipped in locale/<language>, read from the .po so the test names no wording."""
    entry = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po")).find(msgid)
    assert entry is not None and entry.msgstr and not entry.fuzzy, f"no {language} translation of {msgid!r}"
    assert entry.msgstr != msgid, f"the {language} translation of {msgid!r} is the English text"
    return entry.msgstr


def test_it_logs_in_and_switches_to_swahili(browsing: Browsing) -> None:
    page, member = browsing.page, browsing.server.member
    browsing.goto("/account/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    browsing.screenshot("smoke-1-login-en")

    page.get_by_label("Handle or email").fill(member.handle)
    page.get_by_label("Password").fill(member.password)
    page.locator("main form").get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{browsing.server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {member.pseudonym}")

    page.get_by_role("list", name="Language").get_by_role("button", name="Kiswahili", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page).to_have_url(f"{browsing.server.url}/")
    welcome = catalog_text("sw", "Welcome, %(name)s") % {"name": member.pseudonym}
    expect(page.get_by_role("heading", level=1)).to_have_text(welcome)
    expect(page.get_by_role("button", name=catalog_text("sw", "Log out"))).to_be_visible()
    languages = page.get_by_role("list", name=catalog_text("sw", "Language"))
    expect(languages.get_by_role("button", name="Kiswahili", exact=True)).to_have_attribute("aria-current", "true")
    expect(languages.get_by_role("button", name="English", exact=True)).not_to_have_attribute("aria-current", "true")
    browsing.screenshot("smoke-2-home-sw")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page scrolls sideways: {width} px wide"
    css = [url for url in browsing.watch.requests if re.search(r"/static/css/.+\.css$", url)]
    assert css, f"the request log missed the stylesheet: {browsing.watch.requests}"
    assert browsing.watch.problems() == []
