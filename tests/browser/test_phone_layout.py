"""At 360 px the main pages never scroll sideways, and wide tables scroll in a region the keyboard reaches."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from membership.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser.conftest import Browsing, log_in

pytestmark = pytest.mark.browser


def _links_of_home(session: Browsing) -> list[str]:
    """The pages a person reaches from their home page (downloads left out)."""
    session.goto("/")
    hrefs = session.page.eval_on_selector_all("main a[href^='/']", "links => links.map(a => a.getAttribute('href'))")
    return ["/", *dict.fromkeys(h for h in hrefs if not h.endswith((".csv", ".json", ".svg", "/pdf/")))]


def _assert_fits(session: Browsing, path: str) -> None:
    page = session.page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{path} scrolls sideways: {width} px wide"
    for region in page.locator(".table-wrap").all():
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("role") == "region", path
        assert region.get_attribute("aria-label") or region.get_attribute("aria-labelledby"), path


@pytest.mark.parametrize(("handle", "two_factor"), [("amani", False), ("baraka", True)])
def test_main_pages_fit_a_phone(people: Callable[..., Browsing], handle: str, two_factor: bool) -> None:
    phone = people("phone-360x740")
    log_in(phone, handle, DEMO_PASSWORD, two_factor=two_factor)
    paths = _links_of_home(phone)
    assert len(paths) >= 5, paths
    for path in paths:
        response = phone.goto(path)
        assert response is not None and response.status == 200, path
        _assert_fits(phone, path)
    phone.goto("/")
    phone.screenshot(f"phone-home-{handle}")


def test_the_anonymous_home_page_fits_a_phone(browsing: Browsing) -> None:
    browsing.goto("/")
    expect(browsing.page.get_by_role("heading", name="How to join")).to_be_visible()
    expect(browsing.page.get_by_role("link", name="Join Digital Workers Union (demo)")).to_be_visible()
    _assert_fits(browsing, "/")
    browsing.screenshot("home-anonymous")


def test_the_roll_scrolls_sideways_by_keyboard_inside_its_region(people: Callable[..., Browsing]) -> None:
    phone = people("phone-360x740")
    log_in(phone, "baraka", DEMO_PASSWORD, two_factor=True)
    phone.page.get_by_role("link", name="Membership roll").click()
    region = phone.page.get_by_role("region", name="Members, by pseudonym")
    overflow = region.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow > 0, "at 360 px the roll's columns should not all fit: nothing to test"
    # Tab from the last filter link lands on the region itself, and the arrow keys scroll it.
    phone.page.get_by_role("link", name="Clear filters").focus()
    phone.page.keyboard.press("Tab")
    expect(region).to_be_focused()
    for _ in range(6):
        phone.page.keyboard.press("ArrowRight")
    # Keyboard scrolling may be animated: wait for it rather than read the offset at once.
    phone.page.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle(), timeout=5000)
    _assert_fits(phone, "roll")
    phone.screenshot("phone-roll-scrolled")
