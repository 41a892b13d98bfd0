"""A member files a psychological-harm case from a phone; the steward works it; an outsider sees nothing."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from membership.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser.conftest import Browsing, log_in

pytestmark = pytest.mark.browser

CASE_NUMBER = re.compile(r"GRV-\d{4}-\d{4,}")


def test_a_sensitive_case_from_a_phone_to_the_steward_and_back(people: Callable[..., Browsing]) -> None:
    token = secrets.token_hex(4)
    title = f"Graphic queue after my complaint {token}"
    narrative = f"After eight hours on the graphic violence queue I could not sleep for a week ({token})."
    shared_note = f"We asked the vendor for the counselling sessions in writing ({token})."
    internal_note = f"Internal: supervisor has a history of this, check the Mombasa Road file ({token})."

    # amani, on a 360 px phone: a health and safety case, sensitive, not named in the letter.
    member = people("phone-360x740")
    log_in(member, "amani", DEMO_PASSWORD)
    page = member.page
    page.get_by_role("link", name="file a new one", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a problem at work")
    page.get_by_role("radio", name=re.compile(r"^Health and safety")).check()
    page.get_by_label("A short title", exact=True).fill(title)
    page.get_by_label("What happened (optional)", exact=True).fill(narrative)
    page.get_by_label("What would put it right? (optional)", exact=True).fill("Paid counselling, off that queue.")
    page.get_by_label("Mark this case as sensitive", exact=True).check()
    expect(page.get_by_label("The letter to the employer may name me", exact=True)).not_to_be_checked()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the intake form scrolls sideways: {width} px wide"
    member.screenshot("grievance-1-intake")
    page.get_by_role("button", name="Save draft", exact=True).click()

    expect(page.get_by_role("heading", level=2, name="This is a draft")).to_be_visible()
    expect(page.locator("main")).to_contain_text("does not name the grievants")
    case_url = page.url
    page.get_by_role("button", name="Submit to the union", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(CASE_NUMBER)
    filed = CASE_NUMBER.search(page.get_by_role("status").inner_text())
    assert filed is not None
    number = filed.group(0)
    expect(page.get_by_role("heading", level=2, name="This is a draft")).to_have_count(0)
    member.screenshot("grievance-2-filed")

    # wanjiru, the steward, with her second factor: the new case is in the local's list, unassigned.
    steward = people("desktop")
    log_in(steward, "wanjiru", DEMO_PASSWORD, two_factor=True)
    desk = steward.page
    desk.get_by_role("link", name="The local's grievances", exact=True).click()
    desk.get_by_role("link", name=f"{number}: {title}", exact=True).click()
    desk.get_by_role("link", name="Steps, outcome and steward", exact=True).click()
    desk.get_by_label("Steward", exact=True).select_option("wanjiru")
    desk.get_by_role("button", name="Assign", exact=True).click()
    expect(desk.get_by_role("status")).to_contain_text("The steward was assigned.")

    # From "Cases I work on": the content warning comes first, the narrative only when she asks.
    desk.get_by_role("link", name="Tessera", exact=True).click()
    desk.get_by_role("link", name="Cases I work on", exact=True).click()
    desk.get_by_role("link", name=f"{number}: {title}", exact=True).click()
    expect(desk).to_have_url(case_url)
    warning = desk.get_by_role("note")
    expect(warning).to_contain_text("Content warning")
    expect(desk.locator("main")).not_to_contain_text(narrative)
    steward.screenshot("grievance-3-content-warning")
    warning.get_by_role("link", name="Show what happened", exact=True).click()
    expect(desk.locator("main")).to_contain_text(narrative)

    entries = desk.get_by_role("region", name="Add to the timeline")
    entries.get_by_label("Note shared with the grievants", exact=True).check()
    entries.get_by_label("Entry", exact=True).fill(shared_note)
    entries.get_by_role("button", name="Add the entry", exact=True).click()
    expect(desk.get_by_role("status")).to_contain_text("The entry is added to the timeline.")
    entries.get_by_label("Internal note (never shown to the grievants)", exact=True).check()
    entries.get_by_label("Entry", exact=True).fill(internal_note)
    entries.get_by_role("button", name="Add the entry", exact=True).click()
    expect(desk.get_by_role("status")).to_contain_text("The entry is added to the timeline.")
    desk.get_by_role("note").get_by_role("link", name="Show what happened", exact=True).click()
    timeline = desk.get_by_role("region", name="Timeline", exact=True)
    expect(timeline).to_contain_text(shared_note)
    expect(timeline).to_contain_text(internal_note)
    steward.screenshot("grievance-4-steward-timeline")

    # amani sees the shared note, behind the same warning, and never the internal one.
    page.goto(case_url)
    expect(page.get_by_role("note")).to_contain_text("Content warning")
    page.get_by_role("note").get_by_role("link", name="Show what happened", exact=True).click()
    expect(page.get_by_role("region", name="Timeline", exact=True)).to_contain_text(shared_note)
    expect(page.locator("main")).to_contain_text(narrative)
    assert internal_note not in page.content()
    assert token not in page.content().replace(title, "").replace(narrative, "").replace(shared_note, "")
    member.screenshot("grievance-5-member-timeline")

    # maria, a member of the Manila local, gets the 404 page for the same address.
    outsider = people("phone-360x740")
    log_in(outsider, "maria", DEMO_PASSWORD)
    if outsider.server.debug:
        # Django's technical 404 page (development mode) links no icon, so Chromium asks for /favicon.ico.
        outsider.page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    response = outsider.page.goto(case_url)
    assert response is not None and response.status == 404, response and response.status
    # Chromium logs the 404 answer itself as a console error: that one is expected here.
    errors = outsider.watch.console_errors
    errors[:] = [e for e in errors if "the server responded with a status of 404" not in e]
    heading = outsider.page.get_by_role("heading", level=1)
    if outsider.server.debug:
        # The live server runs in development mode, where Django shows its technical 404 instead.
        expect(heading).to_have_text("Page not found (404)")
    else:
        expect(heading).to_have_text("Not found")
    for secret in (title, narrative, shared_note, number, "Amani"):
        assert secret not in outsider.page.content(), f"the 404 page shows {secret!r}"
    outsider.screenshot("grievance-6-outsider-404")
