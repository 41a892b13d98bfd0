"""Consultation in a browser: a representative opens a priorities survey, a member on a 360 px phone
comments anonymously, endorses and ranks the demands with the keyboard alone, the results follow."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from membership.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser.conftest import Browsing, log_in

pytestmark = pytest.mark.browser

DEMANDS = (("Paid wellness breaks", "wellbeing"), ("A living wage", "pay"), ("Name the client", "transparency"))


def _fits(session: Browsing, what: str) -> None:
    width = session.page.evaluate("document.documentElement.scrollWidth")
    assert width <= session.page.viewport_size["width"], f"{what} scrolls sideways: {width} px wide"


def test_a_member_ranks_the_demands_from_a_phone_by_keyboard(people: Callable[..., Browsing]) -> None:
    name = f"Contract 2027 {secrets.token_hex(3)}"

    # neema, a representative of Nairobi: a campaign on every unit of the local, three demands.
    rep = people("desktop")
    log_in(rep, "neema", DEMO_PASSWORD, two_factor=True)
    desk = rep.page
    rep.goto("/bargaining/new/")
    desk.get_by_label("Name", exact=True).fill(name)
    for box in desk.locator("input[name=units], input[name=committee]").all():
        box.check()
    desk.get_by_role("button", name="Save", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(name)
    campaign_url = desk.url
    for title, category in DEMANDS:
        desk.get_by_role("link", name="Add a demand", exact=True).click()
        desk.get_by_label("Title", exact=True).fill(title)
        desk.get_by_label("Category", exact=True).select_option(category)
        desk.get_by_label("Text", exact=True).fill(f"{title}, in full.")
        desk.get_by_role("button", name="Save", exact=True).click()
        expect(desk.get_by_role("heading", level=1)).to_have_text(title)
        desk.goto(campaign_url)
    desk.get_by_role("link", name="Edit the campaign", exact=True).click()
    desk.get_by_label("Stage", exact=True).select_option("consultation")
    desk.get_by_role("button", name="Save", exact=True).click()
    rep.screenshot("consultation-0-campaign-open-survey")
    survey_form = desk.locator("form", has=desk.get_by_role("button", name="Open the survey"))
    expect(survey_form.get_by_label("Anonymous answers")).to_be_checked()
    survey_form.get_by_role("radio", name=re.compile("^Ranking")).check()
    survey_form.get_by_role("button", name="Open the survey").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Priorities survey")
    survey_url = desk.url

    # amani, on a phone: an anonymous comment and an endorsement on the living wage.
    member = people("phone-360x740")
    log_in(member, "amani", DEMO_PASSWORD)
    page = member.page
    member.goto("/bargaining/")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("link", name="Rank the demands", exact=True)).to_be_visible()
    _fits(member, "the campaign page")
    member.screenshot("consultation-0-campaign")
    page.get_by_role("link", name="A living wage", exact=True).click()
    page.get_by_label("Your comment", exact=True).fill("The rent went up twice this year; this is the one.")
    page.get_by_label("Post anonymously", exact=True).check()
    page.get_by_role("button", name="Post the comment", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Comment posted.")
    comment = page.locator(".comment").first
    expect(comment).to_contain_text("Anonymous member")
    expect(comment).to_contain_text("yours")
    page.get_by_role("button", name="Endorse this demand", exact=True).click()
    expect(page.locator("main")).to_contain_text("1 person endorses this demand.")
    _fits(member, "the demand page")
    member.screenshot("consultation-1-demand-comments")

    # The survey, by keyboard alone: first every demand ranked 1 (refused), then a real order.
    member.goto(survey_url.replace(rep.server.url, ""))
    first = page.get_by_label("Article 1. Paid wellness breaks", exact=True)
    first.focus()
    for _ in DEMANDS:
        page.keyboard.press("1")
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Tab reached the button
    expect(page.get_by_role("alert").first).to_contain_text("Give each rank once")
    # Chromium logs the form's 400 answer itself as a console error: that one is expected here.
    errors = member.watch.console_errors
    errors[:] = [e for e in errors if "the server responded with a status of 400" not in e]
    _fits(member, "the survey form with an error")
    member.screenshot("consultation-2-survey-error")
    page.get_by_label("Article 1. Paid wellness breaks", exact=True).focus()
    for key in ("3", "1", "2"):
        page.keyboard.press(key)
        page.keyboard.press("Tab")
    expect(page.get_by_label("A living wage", exact=False)).to_have_value("1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("your answer is counted")
    expect(page.locator("main")).to_contain_text("cannot be shown back to you")
    expect(page.locator("main")).to_contain_text("The results are published to the members when the survey closes.")
    member.screenshot("consultation-3-survey-answered")

    # The representative follows the live results, then closes the survey.
    desk.goto(survey_url)
    desk.get_by_role("link", name=re.compile("^Live results")).click()
    table = desk.get_by_role("table", name="Demands in order of priority")
    expect(table.get_by_role("row").nth(1)).to_contain_text("Article 2. A living wage")
    expect(desk.locator("svg.chart")).to_be_visible()
    rep.screenshot("consultation-4-live-results")
    desk.goto(survey_url)
    desk.get_by_role("button", name="Close the survey and publish the results").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Priorities survey: results")

    # The member reads the published results on the phone: the table sits in a scrollable region.
    member.goto(survey_url.replace(rep.server.url, ""))
    page.get_by_role("link", name="The results", exact=True).click()
    expect(page.get_by_role("table", name="Demands in order of priority")).to_contain_text("Article 2. A living wage")
    _fits(member, "the results page")
    member.screenshot("consultation-5-results")
