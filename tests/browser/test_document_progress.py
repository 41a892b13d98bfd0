"""A representative generates the demands document; a member watching the campaign page on a phone
sees the progress live over the WebSocket, then the new version's link and first-page preview,
without reloading."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from membership.management.commands.seed_demo import DEMO_PASSWORD
from tests.browser.conftest import Browsing, LiveServer, log_in

pytestmark = pytest.mark.browser

SETUP = """
from bargaining.services import campaign_create, demand_create
from membership.models import Member, User
neema, amani = User.objects.get(handle="neema"), User.objects.get(handle="amani")
member = Member.objects.get(user=amani)
campaign = campaign_create(actor=neema, local=member.local, name="Contract 2027 {token}", units=[member.unit],
                           committee=[neema])
demand_create(actor=neema, campaign=campaign, title="Paid wellness breaks", category="wellbeing",
              text="One paid **15-minute** break every two hours of review.")
demand_create(actor=neema, campaign=campaign, title="A living wage", category="pay", text="A wage that pays the rent.")
# On the table: the employer countered article 1, and it is tentatively agreed.
from bargaining.models import Campaign
from bargaining.table import demand_status_set, table_entry_add, table_open
Campaign.objects.filter(pk=campaign.pk).update(stage="tabled")
campaign.refresh_from_db()
table_open(actor=neema, campaign=campaign)
first = campaign.demands.get(number=1)
table_entry_add(actor=neema, demand=first, source="employer", note="Session 2",
                text="One paid 10-minute break every three hours of review.")
demand_status_set(actor=neema, demand=first, status="tentative")
print(campaign.code)
"""


def test_the_member_sees_the_progress_and_the_preview_live(people: Callable[..., Browsing],
                                                           live_tessera: LiveServer) -> None:
    token = secrets.token_hex(3)
    code = live_tessera.manage("shell", "-c", SETUP.replace("{token}", token)).strip().splitlines()[-1]
    path = f"/bargaining/{code}/"

    # amani, a member of the unit, keeps the campaign page open on a phone.
    member = people("phone-360x740")
    log_in(member, "amani", DEMO_PASSWORD)
    frames: list[dict[str, Any]] = []

    def on_socket(socket: Any) -> None:
        if socket.url.endswith(f"/ws/bargaining/{code}/"):
            socket.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    member.page.on("websocket", on_socket)
    member.goto(path)
    watch = member.page.locator(".document-card[data-kind=demands]")
    expect(watch.get_by_text("Not generated yet.")).to_be_visible()
    # A member has no button to press.
    expect(watch.get_by_role("button")).to_have_count(0)

    # neema, on the committee, presses the button on her desktop.
    rep = people("desktop")
    log_in(rep, "neema", DEMO_PASSWORD, two_factor=True)
    rep.goto(path)
    card = rep.page.locator(".document-card[data-kind=demands]")
    expect(member.page.locator("[data-document-progress]")).to_be_visible()
    # A mark on each page's window: a reload (or a form post and redirect) would take it away.
    for session in (member, rep):
        session.page.evaluate("() => { window.__marker = 1; }")
    card.get_by_role("button", name="Generate a new version").click()

    # Both pages learn it is ready without a reload; the member's through the socket alone.
    for session in (member, rep):
        own = session.page.locator(".document-card[data-kind=demands]")
        expect(own.get_by_role("status")).to_have_text("Version 1 is ready.", timeout=30_000)
        expect(own.get_by_role("link", name="Version 1 (PDF)")).to_be_visible()
        preview = own.get_by_role("img", name="First page of version 1")
        expect(preview).to_be_visible()
        session.page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=preview.element_handle())
        assert own.locator("progress").evaluate("bar => bar.value") == 100
        assert session.page.evaluate("() => window.__marker") == 1, "the page was reloaded"
    steps = [frame.get("step") for frame in frames if frame.get("type") == "progress"]
    assert steps == ["start", "layout", "write", "store", "preview", "done"], frames
    width = member.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the campaign page scrolls sideways on a phone: {width} px"
    member.page.locator("[data-document-progress]").scroll_into_view_if_needed()
    member.screenshot("document-progress-member")
    rep.screenshot("document-progress-representative")

    # The PDF the link names is the one the committee made, served to the member.
    response = member.page.request.get(f"{live_tessera.url}{path}documents/1/")
    assert response.status == 200 and response.body().startswith(b"%PDF")

    # The tentative agreement the same way, from the representative's page.
    agreement = rep.page.locator(".document-card[data-kind=agreement]")
    agreement.get_by_role("button", name="Generate a new version").click()
    expect(agreement.get_by_role("status")).to_have_text("Version 1 is ready.", timeout=30_000)
    expect(agreement.get_by_role("img", name="First page of version 1")).to_be_visible()
    assert rep.page.evaluate("() => window.__marker") == 1, "the page was reloaded"

    # The member reads the table: what was asked, what is on the table now, the status.
    member.goto(f"{path}table/")
    main = member.page.locator("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Bargaining table")
    expect(main).to_contain_text("Status: Tentatively agreed")
    expect(main.locator(".table-article del").first).to_contain_text("15-minute")
    expect(main.locator(".table-article ins").first).to_contain_text("10-minute")
    width = member.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the table page scrolls sideways on a phone: {width} px"
    member.screenshot("table-member")
    rep.goto(f"{path}table/")
    rep.page.get_by_role("link", name="2 positions on the table").click()
    expect(rep.page.get_by_role("heading", level=2, name="Record a position")).to_be_visible()
    rep.screenshot("demand-table-representative")
