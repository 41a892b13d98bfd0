"""Joining, as a visitor does it on a phone: the join form in French, the emailed link, the card,
an organizer's verification, a second sign-up that reveals nothing, and a database with no clear text.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from membership.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser.conftest import Browsing, log_in
from tests.browser.test_smoke import catalog_text

pytestmark = pytest.mark.browser

UNION = "Digital Workers Union (demo)"
UNIT = re.compile(r"Swahili and English moderation queue")
PASSWORD = "paper lantern over quiet river"  # noqa: S105 - the visitor's new password, for this test only
CONFIRM_LINK = re.compile(r"https?://\S+?(/join/confirm/[^\s/]+/)")


@dataclass(frozen=True)
class Visitor:
    """Canary values: typed once into the form, then searched for everywhere they must not be."""

    legal_name: str
    email: str
    phone: str
    pseudonym: str
    handle: str

    @classmethod
    def new(cls, tag: str) -> Visitor:
        token = secrets.token_hex(5)
        digits = f"{secrets.randbelow(10**8):08d}"
        return cls(
            legal_name=f"Zéphyrine Canari-{token} Okonkwo",
            email=f"canary.{token}@example.org",
            phone=f"+33 6 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}",
            pseudonym=f"{tag}-{token}",
            handle=f"{tag}.{token}",
        )


def _fill_join_form(page: Page, visitor: Visitor, language: str, *, handle: str | None = None,
                    pseudonym: str | None = None) -> None:
    def t(msgid: str) -> str:
        return catalog_text(language, msgid)

    unit = page.get_by_label(t("Where do you work?"), exact=True)
    unit.select_option(label=unit.get_by_role("option", name=UNIT).first.text_content())
    page.get_by_label(t("Pseudonym"), exact=True).fill(pseudonym or visitor.pseudonym)
    page.get_by_label(t("Email"), exact=True).fill(visitor.email)
    page.get_by_label(t("Phone (optional)"), exact=True).fill(visitor.phone)
    page.get_by_role("group", name=t("Languages you speak")).get_by_label("Français", exact=True).check()
    page.get_by_label(t("Login name"), exact=True).fill(handle or visitor.handle)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    for consent in ("I want to join the union.", "I authorise the union to represent me with my employer.",
                    "I understand that my data is encrypted and never shared with my employer."):
        page.get_by_label(t(consent), exact=True).check()
    page.get_by_label(t("Your full legal name (your signature)"), exact=True).fill(visitor.legal_name)
    page.get_by_role("button", name=t("Sign the card and join"), exact=True).click()


def _confirm_path(session: Browsing, visitor: Visitor) -> str:
    mails = session.server.mails_to(visitor.email)
    assert len(mails) == 1, f"expected one email to {visitor.email}, got {mails}"
    found = CONFIRM_LINK.search(mails[0])
    assert found, f"no confirmation link in the email:\n{mails[0]}"
    for secret in (visitor.legal_name, visitor.phone, visitor.pseudonym, UNION):
        assert secret not in mails[0], f"the email repeats {secret!r}"
    return found.group(1)


def _assert_no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert page.viewport_size is not None and width <= page.viewport_size["width"], f"the page scrolls sideways: {width} px wide"


def test_a_visitor_joins_in_french_and_an_organizer_verifies(
    people: Callable[..., Browsing], tmp_path: Path,
) -> None:
    def fr(msgid: str) -> str:
        return catalog_text("fr", msgid)

    visitor = Visitor.new("canari")
    phone = people("phone-360x740")
    page, url = phone.page, phone.server.url

    # The join page in English, switched to French with the header's language form.
    phone.goto("/j/dwu/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Join {UNION}")
    page.get_by_role("list", name="Language").get_by_role("button", name="Français", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_url(f"{url}/j/dwu/")
    expect(page.get_by_role("heading", level=1)).to_have_text(fr("Join %(name)s") % {"name": UNION})
    _assert_no_sideways_scroll(page)
    phone.screenshot("join-1-form-fr")

    _fill_join_form(page, visitor, "fr")
    expect(page).to_have_url(f"{url}/j/dwu/sent/")
    expect(page.get_by_role("heading", level=1)).to_have_text(fr("Check your email"))
    first_answer = page.locator("main").inner_text()
    phone.screenshot("join-2-sent-fr")

    # The link from the email: a page with a button (a mail scanner's GET confirms nothing).
    phone.goto(_confirm_path(phone, visitor))
    expect(page.get_by_role("heading", level=1)).to_have_text(fr("Confirm your signature"))
    page.locator("main").get_by_role("button", name=fr("Confirm"), exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"{url}/account/login/")))
    expect(page.get_by_role("status")).to_contain_text(fr("Your signature is confirmed. Log in to see your card."))

    # The new member logs in and sees the card they signed, and its PDF.
    page.get_by_label(fr("Handle or email"), exact=True).fill(visitor.email)
    page.get_by_label(fr("Password"), exact=True).fill(PASSWORD)
    page.locator("main form").get_by_role("button", name=fr("Log in"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(fr("Welcome, %(name)s") % {"name": visitor.pseudonym})
    page.get_by_role("link", name=fr("Your union card"), exact=True).click()
    page.get_by_role("link", name=UNION, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(fr("Your union card"))
    expect(page.locator("main")).to_contain_text(visitor.legal_name)
    _assert_no_sideways_scroll(page)
    phone.screenshot("join-3-card-fr")
    pdf_link = page.get_by_role("link", name=fr("Download as PDF"), exact=True)
    pdf = page.context.request.get(f"{url}{pdf_link.get_attribute('href')}")
    assert pdf.status == 200, pdf.status
    assert pdf.headers["content-type"] == "application/pdf", pdf.headers
    assert pdf.body().startswith(b"%PDF-")

    # The organizer, with their second factor, verifies the application.
    organizer = people("desktop")
    log_in(organizer, "baraka", DEMO_PASSWORD, two_factor=True)
    desk = organizer.page
    desk.get_by_role("link", name="Applications to verify", exact=True).click()
    expect(desk.get_by_role("heading", level=2, name=visitor.pseudonym)).to_be_visible()
    organizer.screenshot("join-4-pending")
    desk.get_by_role("button", name=f"Verify {visitor.pseudonym}", exact=True).click()
    expect(desk.get_by_role("status")).to_contain_text(f"{visitor.pseudonym} is now an active member.")
    expect(desk.get_by_role("heading", level=2, name=visitor.pseudonym)).to_have_count(0)

    # On the roll, found through the blind index by exact email, the member is active.
    desk.get_by_role("link", name=re.compile(r"^Back to the roll of ")).click()
    desk.get_by_label("Search", exact=True).fill(visitor.email)
    desk.get_by_label("Search", exact=True).press("Enter")
    desk.get_by_role("link", name=visitor.pseudonym, exact=True).click()
    facts = desk.locator("main dl")
    expect(facts).to_contain_text("Active")
    expect(facts).to_contain_text(visitor.legal_name)
    expect(facts).to_contain_text(re.sub(r"\s", "", visitor.phone))
    organizer.screenshot("join-5-member-active")

    # A second sign-up with the same email: the same page, nothing created, a "log in" email to the owner.
    mails_before = len(phone.server.mails_to(visitor.email, wait=0))  # the confirmation, the "log in" nudge
    again = people("phone-360x740", locale="fr-FR")
    again.goto("/j/dwu/")
    expect(again.page.locator("html")).to_have_attribute("lang", "fr")
    # Another pseudonym: a member's own (or a look-alike) is refused to anyone, known email or not.
    _fill_join_form(again.page, visitor, "fr", handle=f"{visitor.handle}.bis", pseudonym=f"{visitor.pseudonym}x")
    expect(again.page).to_have_url(f"{url}/j/dwu/sent/")
    assert again.page.locator("main").inner_text() == first_answer
    mails = again.server.mails_to(visitor.email, count=mails_before + 1)
    assert len(mails) == mails_before + 1, mails
    assert not CONFIRM_LINK.search(mails[-1]) and "/account/login/" in mails[-1], mails[-1]

    # The database (a copy of its files, or a dump) holds none of what the visitor typed in clear.
    stored = phone.server.database_bytes(tmp_path / "database")
    digits = re.sub(r"\D", "", visitor.phone)
    for canary in (visitor.legal_name, visitor.legal_name.split()[1], visitor.email, visitor.email.split("@")[0],
                   visitor.phone, "+" + digits, digits):
        assert canary.encode() not in stored, f"{canary!r} is in the database in clear"
    assert visitor.pseudonym.encode() in stored, "the search found nothing: is this the server's database?"


@pytest.mark.parametrize("viewport", ["desktop", "phone-360x740"])
def test_the_join_page_speaks_swahili(people: Callable[..., Browsing], viewport: str) -> None:
    """A browser set to Swahili (its Accept-Language): the page, the form and the confirmation page."""

    def sw(msgid: str) -> str:
        return catalog_text("sw", msgid)

    browsing = people(viewport, locale="sw")
    page = browsing.page
    browsing.goto("/j/dwu/")
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_role("heading", level=1)).to_have_text(sw("Join %(name)s") % {"name": UNION})
    expect(page.get_by_role("list", name=sw("Language")).get_by_role("button", name="Kiswahili", exact=True)
           ).to_have_attribute("aria-current", "true")
    _assert_no_sideways_scroll(page)
    browsing.screenshot("join-sw-1-form")

    visitor = Visitor.new("mwanachama")
    _fill_join_form(page, visitor, "sw")
    expect(page.get_by_role("heading", level=1)).to_have_text(sw("Check your email"))
    browsing.goto(_confirm_path(browsing, visitor))
    expect(page.get_by_role("heading", level=1)).to_have_text(sw("Confirm your signature"))
    expect(page.locator("main").get_by_role("button", name=sw("Confirm"), exact=True)).to_be_visible()
    browsing.screenshot("join-sw-2-confirm")
