"""Campaigns, demands, revisions and diffs: the pages and the services behind them."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from bargaining.models import Campaign, Demand, DemandRevision
from bargaining.services import demand_update
from membership.models import Member
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas, login_as
from tests.factories import make_local, make_unit
from tests.grievances.factories import make_case, number
from union.models import AuditEvent

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"bargaining:{name}", kwargs=kwargs)


def client_for(user: Any) -> Client:
    return login_as(Client(), user)


def demand_post(**overrides: Any) -> dict[str, Any]:
    data = {"title": "Paid wellness breaks", "category": "wellbeing", "text": "One break every two hours.",
            "rationale": "", "priority": "1", "cost_estimate": "", "grievances": []}
    data.update(overrides)
    return data


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser or WeasyPrint would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, dict(attrs)))


def marked(html: str) -> str:
    """The diff as text: {+inserted+}, [-deleted-], fields as "Name|text" lines (hidden labels dropped)."""
    html = re.sub(r'<span class="visually-hidden">[^<]*</span>', "", html)
    html = html.replace("<ins>", "{+").replace("</ins>", "+}").replace("<del>", "[-").replace("</del>", "-]")
    html = re.sub(r'</p>\s*<div class="diff-text">', "|", html)
    return re.sub(r"<[^>]+>", "", html)


class TestCampaigns:
    def test_it_creates_a_campaign_for_units_of_the_local(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        response = client_for(personas.representative).post(url("campaign_new"), {
            "name": "Contract 2027", "units": [unit.pk], "committee": [personas.representative.pk],
            "language": "sw", "ratification_on": "2027-03-01"})
        campaign = Campaign.objects.get()
        assert response.status_code == 302 and response["Location"] == url("campaign_detail", code=campaign.code)
        assert list(campaign.units.all()) == [unit] and list(campaign.committee.all()) == [personas.representative]
        assert campaign.language == "sw" and campaign.stage == Campaign.Stage.DRAFTING
        event = AuditEvent.objects.get(action="bargaining.campaign_create")
        assert event.target_id == str(campaign.code) and event.details["committee"] == [personas.representative.pk]

    def test_it_refuses_a_unit_of_another_local_and_creates_nothing(self, personas: Personas) -> None:
        foreign = make_unit(make_local(personas.local.union))
        response = client_for(personas.representative).post(url("campaign_new"), {
            "name": "Contract 2027", "units": [foreign.pk], "language": "en"})
        assert response.status_code == 400 and not Campaign.objects.exists()

    def test_a_member_may_not_start_a_campaign(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        response = client_for(personas.member).post(url("campaign_new"), {"name": "X", "units": [unit.pk],
                                                                         "language": "en"})
        assert response.status_code == 403 and not Campaign.objects.exists()

    def test_the_committee_edits_the_stage_and_a_member_of_the_unit_may_not(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        unit = campaign.units.get()
        data = {"name": "Contract 2027", "units": [unit.pk], "committee": [personas.representative.pk],
                "language": "fr", "stage": "consultation"}
        assert client_for(personas.member).post(url("campaign_edit", code=campaign.code), data).status_code == 403
        assert client_for(personas.outsider).post(url("campaign_edit", code=campaign.code), data).status_code == 404
        campaign.refresh_from_db()
        assert campaign.stage == "drafting" and campaign.language == "en"
        assert client_for(personas.representative).post(url("campaign_edit", code=campaign.code), data).status_code == 302
        campaign.refresh_from_db()
        assert campaign.stage == "consultation" and campaign.language == "fr"

    def test_a_committee_member_cannot_be_an_ordinary_member(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        data = {"name": "Contract 2027", "units": [campaign.units.get().pk],
                "committee": [personas.member.pk], "language": "en", "stage": "drafting"}
        response = client_for(personas.representative).post(url("campaign_edit", code=campaign.code), data)
        assert response.status_code == 400
        assert list(campaign.committee.all()) == [personas.representative]

    def test_a_suspended_representative_loses_the_campaign(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        Member.objects.filter(user=personas.representative).update(status=Member.Status.SUSPENDED)
        client = client_for(personas.representative)
        assert client.get(url("campaign_detail", code=campaign.code)).status_code == 404
        assert client.get(url("demand_new", code=campaign.code)).status_code == 404

    def test_the_list_shows_members_only_campaigns_of_their_unit(self, personas: Personas) -> None:
        campaign = make_campaign(personas, name="Our contract")
        other_unit = make_unit(personas.local)
        Campaign.objects.create(local=personas.local, name="Someone else's contract").units.set([other_unit])
        page = client_for(personas.member).get(url("campaign_list")).content.decode()
        assert campaign.name in page and "Someone else" not in page
        assert "Our contract" not in client_for(personas.outsider).get(url("campaign_list")).content.decode()


class TestDemands:
    def test_it_numbers_articles_and_records_a_revision_with_author(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        client = client_for(personas.representative)
        for title in ("Paid wellness breaks", "A living wage"):
            assert client.post(url("demand_new", code=campaign.code), demand_post(title=title)).status_code == 302
        first, second = Demand.objects.order_by("number")
        assert (first.number, second.number) == (1, 2) and second.title == "A living wage"
        revision = first.revisions.get()
        assert revision.number == 1 and revision.author == personas.representative
        event = AuditEvent.objects.filter(action="bargaining.demand_create").first()
        assert event is not None and "Paid wellness" not in json.dumps(event.details)

    def test_bad_input_changes_nothing(self, personas: Personas) -> None:
        demand = make_demand(personas)
        response = client_for(personas.representative).post(url("demand_edit", code=demand.code),
                                                             demand_post(title="", category="bribes"))
        assert response.status_code == 400 and b"errors" in response.content
        demand.refresh_from_db()
        assert demand.title == "Paid wellness breaks" and demand.revisions.count() == 1

    def test_a_reader_may_not_edit_and_an_outsider_sees_nothing(self, personas: Personas) -> None:
        demand = make_demand(personas)
        assert client_for(personas.member).post(url("demand_edit", code=demand.code),
                                                demand_post(title="Changed")).status_code == 403
        assert client_for(personas.outsider).post(url("demand_edit", code=demand.code),
                                                  demand_post(title="Changed")).status_code == 404
        assert client_for(personas.organizer).get(url("demand_detail", code=demand.code)).status_code == 404
        demand.refresh_from_db()
        assert demand.title == "Paid wellness breaks" and demand.revisions.count() == 1

    def test_every_edit_is_a_revision_and_an_unchanged_save_is_not(self, personas: Personas) -> None:
        demand = make_demand(personas)
        client = client_for(personas.local_admin)
        client.post(url("demand_edit", code=demand.code), demand_post(text="One paid break every hour."))
        client.post(url("demand_edit", code=demand.code), demand_post(text="One paid break every hour."))
        revisions = list(demand.revisions.order_by("number"))
        assert [r.number for r in revisions] == [1, 2]
        assert revisions[1].author == personas.local_admin and revisions[1].text == "One paid break every hour."
        assert revisions[0].text.startswith("One paid **15-minute**")

    def test_the_diff_reads_without_colour(self, personas: Personas) -> None:
        demand = make_demand(personas, text="Breaks of fifteen minutes every two hours.")
        demand_update(actor=personas.representative, demand=demand, grievances=[],
                      text="Paid breaks of twenty minutes every two hours.", category=Demand.Category.WORKLOAD)
        page = client_for(personas.member).get(url("demand_diff", code=demand.code), {"a": 1, "b": 2})
        assert page.status_code == 200
        diff = marked(page.content.decode().split('<div class="diff">', 1)[1])
        assert "Text|[-Breaks -]{+Paid breaks +}of [-fifteen -]{+twenty +}minutes every two hours." in diff
        # A choice is compared as people read it, whole, never as its stored code.
        assert "Category|[-Mental health and wellbeing-]{+Workload and quotas+}" in diff
        assert "Title (unchanged)|Paid wellness breaks" in diff
        # Without colour: insertions are underlined and bold, deletions struck through.
        css = Path("static/css/bargaining.css").read_text()
        assert re.search(r"\.diff ins \{[^}]*underline[^}]*font-weight: 700", css)
        assert re.search(r"\.diff del \{[^}]*line-through", css)

    def test_an_unknown_revision_is_a_form_error(self, personas: Personas) -> None:
        demand = make_demand(personas)
        response = client_for(personas.member).get(url("demand_diff", code=demand.code), {"a": 1, "b": 9})
        assert response.status_code == 400

    def test_markup_and_file_references_neither_run_nor_load(self, personas: Personas) -> None:
        hostile = ('<script>alert(1)</script> <img src="file:///etc/passwd"> ![x](file:///etc/shadow) '
                   '![y](http://evil.example/pixel.png) [click](javascript:alert(2)) [plain](http://evil.example/) '
                   '<style>@import url(http://evil.example/a.css)</style> [ok](https://union.example/)')
        demand = make_demand(personas, text=hostile, rationale="<iframe src='file:///etc/passwd'></iframe>")
        html = client_for(personas.member).get(url("demand_detail", code=demand.code)).content.decode()
        body = html.split('<div class="demand-text">', 1)[1].split("<h2>Cases behind", 1)[0]
        tags = Tags()
        tags.feed(body)
        # Only harmless tags, and the one https link; nothing that runs (script, handlers) or loads (src, url()).
        assert {tag for tag, _ in tags.seen} <= {"p", "a", "div", "h2"}
        assert [attrs.get("href") for tag, attrs in tags.seen if tag == "a"] == [None, None, "https://union.example/"]
        assert not [attrs for _tag, attrs in tags.seen if set(attrs) - {"href", "rel", "class"}]
        # What was markup is shown to the reader as text.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;iframe src=" in body

    def test_a_grievance_of_another_local_cannot_be_cited(self, personas: Personas) -> None:
        demand = make_demand(personas)
        foreign = make_case(personas)
        foreign.local = personas.other_local
        foreign.save(update_fields=["local"])
        response = client_for(personas.representative).post(url("demand_edit", code=demand.code),
                                                             demand_post(grievances=[foreign.pk]))
        assert response.status_code == 400 and not demand.grievances.exists()

    def test_the_page_counts_handled_cases_of_each_linked_category(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        cited = make_case(personas, category="pay")
        make_case(personas, category="pay")
        make_case(personas, category="pay", submit=False)  # a draft is not a handled case
        make_case(personas, category="health")  # not linked: not counted
        response = client_for(personas.representative).post(url("demand_new", code=campaign.code),
                                                            demand_post(grievances=[cited.pk]))
        assert response.status_code == 302
        demand = Demand.objects.get()
        assert list(demand.grievances.all()) == [cited]
        rep_page = client_for(personas.representative).get(url("demand_detail", code=demand.code)).content.decode()
        member_page = client_for(personas.member).get(url("demand_detail", code=demand.code)).content.decode()
        for page in (rep_page, member_page):
            row = re.sub(r"\s+", " ", page.split("<tbody>")[1].split("</tbody>")[0])
            assert re.fullmatch(r'<tr><th scope="row">[^<]+</th><td>2</td><td>0</td></tr>', row.strip()), row
        assert number(cited) in rep_page and number(cited) not in member_page
        assert DemandRevision.objects.get().grievance_ids == [cited.pk]

    def test_an_editor_sees_no_number_of_a_restricted_case_they_cannot_open(self, personas: Personas) -> None:
        from grievances.models import Grievance

        demand = make_demand(personas)
        restricted = make_case(personas, category="pay")
        Grievance.objects.filter(pk=restricted.pk).update(confidentiality=Grievance.Confidentiality.RESTRICTED)
        demand.grievances.add(restricted)
        rep_page = client_for(personas.representative).get(url("demand_detail", code=demand.code)).content.decode()
        admin_page = client_for(personas.local_admin).get(url("demand_detail", code=demand.code)).content.decode()
        assert number(restricted) not in rep_page and number(restricted) in admin_page
