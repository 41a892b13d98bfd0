"""The bargaining table log: positions with their source, statuses with their history, the pages,
the tentative-agreement PDF and the first-page previews."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from bargaining.agreement import canonical_content, render_agreement_pdf
from bargaining.models import Campaign, Demand, DemandDocument
from bargaining.models_table import AgreementDocument, DemandStatusChange, DocumentPreview, TableEntry
from bargaining.previews import first_page_png
from bargaining.services import agreement_generate, demands_document_generate
from bargaining.table import demand_status_set, table_entry_add, table_open, table_rows
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas, login_as
from union.models import AuditEvent, DocumentCustody

pytestmark = pytest.mark.django_db

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo") and shutil.which("pdftoppm")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo, pdftoppm) is not installed")

ASKED = ["One paid 15-minute break every two hours of review.", "A wage that pays the rent.",
         "Name the client of every queue.", "Quotas we can meet."]
TITLES = ["Paid wellness breaks", "A living wage", "Name the client", "Quotas we can meet"]


def tabled(p: Personas, n: int = 3, **fields: object) -> Campaign:
    campaign = make_campaign(p, **fields)
    for i in range(n):
        make_demand(p, campaign, title=TITLES[i], text=ASKED[i], category=list(Demand.Category)[i])
    Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.TABLED)
    campaign.refresh_from_db()
    table_open(actor=p.representative, campaign=campaign)
    return campaign


def article(campaign: Campaign, number: int) -> Demand:
    return campaign.demands.get(number=number)


def pdf_text(pdf: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", *args, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout.replace("\u00a0", " ")


class TestServices:
    def test_tabling_records_what_was_asked_and_only_once(self, personas: Personas) -> None:
        campaign = tabled(personas, 2)
        assert list(TableEntry.objects.order_by("demand__number").values_list("number", "source", "text")) == [
            (1, "union", ASKED[0]), (1, "union", ASKED[1])]
        # A late article is added by tabling again; the others are not recorded twice.
        make_demand(personas, campaign, title="Late", text="Late text.")
        assert table_open(actor=personas.representative, campaign=campaign) == 1
        assert TableEntry.objects.count() == 3
        assert AuditEvent.objects.filter(action="bargaining.table_open").count() == 2

    def test_nothing_is_tabled_before_the_stage_says_so(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        make_demand(personas, campaign)
        with pytest.raises(ValidationError):
            table_open(actor=personas.representative, campaign=campaign)
        with pytest.raises(ValidationError):
            table_entry_add(actor=personas.representative, demand=campaign.demands.get(), source="employer", text="x")
        assert not TableEntry.objects.exists()

    def test_counter_proposals_and_statuses_keep_their_history(self, personas: Personas) -> None:
        campaign = tabled(personas, 2)
        first = article(campaign, 1)
        counter = table_entry_add(actor=personas.representative, demand=first, source="employer",
                                  text="One paid 10-minute break every three hours of review.", note="session 2")
        table_entry_add(actor=personas.representative, demand=first, source="union",
                        text="One paid 15-minute break every three hours of review.")
        demand_status_set(actor=personas.representative, demand=first, status="tentative", entry=counter)
        change = demand_status_set(actor=personas.representative, demand=first, status="agreed")
        # Agreed without naming a position: the latest one; the tentative row stays in the history.
        assert change.entry is not None and change.entry.number == 3
        assert list(first.status_changes.values_list("status", flat=True)) == ["tentative", "agreed"]
        row = table_rows(campaign)[0]
        assert row["status"] == "agreed" and row["asked"].text == ASKED[0] and row["current"].number == 3
        assert ("delete", "two ") in row["diff"] and ("insert", "three ") in row["diff"]
        # Agreed articles take no new position until set back to open.
        with pytest.raises(ValidationError):
            table_entry_add(actor=personas.representative, demand=first, source="employer", text="Reopen?")
        demand_status_set(actor=personas.representative, demand=first, status="open")
        table_entry_add(actor=personas.representative, demand=first, source="employer", text="Reopen?")
        actions = list(AuditEvent.objects.filter(action__startswith="bargaining.").values_list("action", flat=True))
        assert actions.count("bargaining.table_entry_add") == 3 and actions.count("bargaining.demand_status_set") == 3

    def test_bad_input_changes_nothing(self, personas: Personas) -> None:
        campaign = tabled(personas, 2)
        first, second = article(campaign, 1), article(campaign, 2)
        other_entry = second.table_entries.get()
        for call in (
            lambda: table_entry_add(actor=personas.representative, demand=first, source="boss", text="x"),
            lambda: table_entry_add(actor=personas.representative, demand=first, source="employer", text=""),
            lambda: demand_status_set(actor=personas.representative, demand=first, status="won"),
            lambda: demand_status_set(actor=personas.representative, demand=first, status="agreed",
                                      entry=other_entry),
        ):
            with pytest.raises(ValidationError):
                call()
        assert TableEntry.objects.count() == 2 and not DemandStatusChange.objects.exists()


class TestPages:
    def test_members_read_asked_current_and_status(self, personas: Personas) -> None:
        campaign = tabled(personas, 2)
        first = article(campaign, 1)
        rep = login_as(Client(), personas.representative)
        url = reverse("bargaining:demand_table_entry", kwargs={"code": first.code})
        response = rep.post(url, {"source": "employer", "text": "One paid 10-minute break every two hours.",
                                  "note": "session 1"})
        assert response.status_code == 302
        response = rep.post(reverse("bargaining:demand_table_status", kwargs={"code": first.code}),
                            {"status": "tentative", "entry": "", "note": ""})
        assert response.status_code == 302
        page = login_as(Client(), personas.member).get(
            reverse("bargaining:campaign_table", kwargs={"code": campaign.code}))
        html = page.content.decode()
        assert page.status_code == 200 and "Tentatively agreed" in html and ASKED[0] in html
        assert re.search(r"<del><span class=\"visually-hidden\">\[removed: </span>15-minute", html)
        assert re.search(r"<ins><span class=\"visually-hidden\">\[added: </span>10-minute", html)
        # Members see no editing controls.
        assert "Record the demands as tabled" not in html
        detail = login_as(Client(), personas.member).get(reverse("bargaining:demand_table", kwargs={"code": first.code}))
        assert "session 1" in detail.content.decode() and "Record the position" not in detail.content.decode()

    def test_a_member_may_not_write_and_an_outsider_sees_nothing(self, personas: Personas) -> None:
        campaign = tabled(personas, 1)
        first = article(campaign, 1)
        posts = [
            (reverse("bargaining:demand_table_entry", kwargs={"code": first.code}), {"source": "union", "text": "x"}),
            (reverse("bargaining:demand_table_status", kwargs={"code": first.code}), {"status": "agreed"}),
            (reverse("bargaining:campaign_table_open", kwargs={"code": campaign.code}), {}),
            (reverse("bargaining:agreement_generate", kwargs={"code": campaign.code}), {}),
        ]
        for persona, expected in ((personas.member, 403), (personas.steward, 403), (personas.outsider, 404),
                                  (personas.organizer, 404)):
            client = login_as(Client(), persona)
            for url, data in posts:
                assert client.post(url, data).status_code == expected, (persona, url)
        assert TableEntry.objects.count() == 1 and not DemandStatusChange.objects.exists()
        assert not AgreementDocument.objects.exists()

    def test_bad_input_answers_400_and_changes_nothing(self, personas: Personas) -> None:
        campaign = tabled(personas, 2)
        first, second = article(campaign, 1), article(campaign, 2)
        rep = login_as(Client(), personas.representative)
        entry_url = reverse("bargaining:demand_table_entry", kwargs={"code": first.code})
        assert rep.post(entry_url, {"source": "boss", "text": "x"}).status_code == 400
        assert rep.post(entry_url, {"source": "union", "text": ""}).status_code == 400
        status_url = reverse("bargaining:demand_table_status", kwargs={"code": first.code})
        foreign = second.table_entries.get()
        response = rep.post(status_url, {"status": "agreed", "entry": foreign.pk})
        assert response.status_code == 400 and b"Select a valid choice" in response.content
        assert TableEntry.objects.count() == 2 and not DemandStatusChange.objects.exists()

    def test_without_a_script_the_button_comes_back_to_the_campaign_page(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        make_demand(personas, campaign)
        url = reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code})
        rep = login_as(Client(), personas.representative)
        response = rep.post(url, {"back": "campaign"})
        detail = reverse("bargaining:campaign_detail", kwargs={"code": campaign.code})
        assert response.status_code == 302 and response["Location"] == detail
        page = rep.get(detail).content.decode()
        assert "Document version 1 is ready." in page and "Version 1 (PDF)" in page
        # "back" names a page, it is never a URL to follow.
        response = rep.post(url, {"back": "https://example.org/"})
        assert response["Location"] == reverse("bargaining:campaign_documents", kwargs={"code": campaign.code})

    def test_with_a_worker_the_page_says_to_come_back(self, personas: Personas, settings: Any) -> None:
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        campaign = make_campaign(personas)
        make_demand(personas, campaign)
        url = reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code})
        rep = login_as(Client(), personas.representative)
        answer = rep.post(url, HTTP_ACCEPT="application/json")
        assert answer.status_code == 202 and answer.json() == {"kind": "demands", "step": "queued", "version": None}
        page = rep.post(url, {"back": "campaign"}, follow=True).content.decode()
        assert "being prepared. Reload this page in a moment" in page and "Not generated yet." in page
        assert not DemandDocument.objects.exists()

    def test_tabling_from_the_page_needs_the_stage(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        make_demand(personas, campaign)
        url = reverse("bargaining:campaign_table_open", kwargs={"code": campaign.code})
        response = login_as(Client(), personas.representative).post(url, follow=True)
        assert b"not tabled yet" in response.content and not TableEntry.objects.exists()


def settle(p: Personas, campaign: Campaign) -> None:
    first, second, third = (article(campaign, n) for n in (1, 2, 3))
    table_entry_add(actor=p.representative, demand=first, source="employer",
                    text="One paid 10-minute break every three hours of review.")
    demand_status_set(actor=p.representative, demand=first, status="tentative")
    demand_status_set(actor=p.representative, demand=second, status="agreed")  # as asked
    demand_status_set(actor=p.representative, demand=third, status="withdrawn")


@needs_poppler
class TestAgreementDocument:
    def test_agreed_articles_in_order_with_what_was_asked(self, personas: Personas, tmp_path: Path) -> None:
        campaign = tabled(personas, 4)
        settle(personas, campaign)
        pdf, digest = render_agreement_pdf(campaign, version=1)
        text = re.sub(r"[ \t]+", " ", pdf_text(pdf, tmp_path, "-layout"))
        pages = text.split("\f")
        assert "Tentative agreement" in pages[0] and digest in re.sub(r"\s+", "", pages[0])
        body = "\f".join(pages[2:])
        one, two = body.find("Article 1. Paid wellness breaks"), body.find("Article 2. A living wage")
        assert -1 < one < two
        first, second = body[one:two], body[two:]
        # Article 1: the agreed (employer's) text, then what was asked.
        assert first.find("10-minute break every three hours") < first.find("What the members asked")
        assert "15-minute break every two hours" in first.split("What the members asked")[1]
        assert "as the members asked, word for word" in second
        # Withdrawn and open articles are listed apart, not as agreed.
        assert "Demands not agreed" in body and re.search(r"Article 3\. Name the client\s+Withdrawn", body)
        assert re.search(r"Article 4\. Quotas we can meet\s+Open", body)
        assert "Article 3. Name the client" not in body.split("Demands not agreed")[0].split("Contents")[-1]
        # Tagged like the demands (PDF/UA-1), the articles in the structure tree in order.
        path = tmp_path / "a.pdf"
        tree = subprocess.run(["pdfinfo", "-struct-text", str(path)], capture_output=True, text=True).stdout
        # Contents (1, 2), the agreed articles (1, 2), then the table of the others (3, 4).
        assert re.findall(r"Article (\d)\. ", tree) == ["1", "2", "1", "2", "3", "4"] and "TENTATIVE" not in tree
        assert all("TENTATIVE" in page for page in pdf_text(pdf, tmp_path, "-raw").split("\f") if page.strip())

    def test_kept_with_hash_preview_and_no_second_copy(self, personas: Personas) -> None:
        campaign = tabled(personas, 2)
        settle_two = article(campaign, 1)
        demand_status_set(actor=personas.representative, demand=settle_two, status="agreed")
        kept = agreement_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
        again = agreement_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
        assert kept.pk == again.pk and kept.document.kind == "bargaining.agreement"
        preview = DocumentPreview.objects.get(document=kept.document)
        assert preview.image.content_type == "image/png" and preview.image.kind == "bargaining.agreement_preview"
        assert canonical_content(campaign)["articles"][0]["status"] == "agreed"
        assert AuditEvent.objects.filter(action="bargaining.agreement_generate").count() == 1

    def test_it_prints_in_the_campaign_language(self, personas: Personas, tmp_path: Path) -> None:
        campaign = tabled(personas, 1, language="fr")
        demand_status_set(actor=personas.representative, demand=article(campaign, 1), status="tentative")
        text = pdf_text(render_agreement_pdf(campaign, version=1)[0], tmp_path)
        # The date is written in French whatever the catalogs hold today ("1 décembre 2026").
        day = date.fromisoformat(canonical_content(campaign)["date"])
        with translation.override("fr"):
            printed = date_format(day, "DATE_FORMAT")
        assert printed in text and printed != date_format(day, "DATE_FORMAT") and "Paid wellness breaks" in text

    def test_generate_from_the_page_and_members_fetch_it(self, personas: Personas) -> None:
        campaign = tabled(personas, 1)
        url = reverse("bargaining:agreement_generate", kwargs={"code": campaign.code})
        rep = login_as(Client(), personas.representative)
        response = rep.post(url, follow=True)
        assert b"No article is agreed" in response.content and not AgreementDocument.objects.exists()
        demand_status_set(actor=personas.representative, demand=article(campaign, 1), status="tentative")
        answer = rep.post(url, HTTP_ACCEPT="application/json")
        assert answer.status_code == 200 and answer.json()["step"] == "done" and answer.json()["version"] == 1
        member = login_as(Client(), personas.member)
        download = member.get(answer.json()["download"])
        assert download.status_code == 200 and download.content.startswith(b"%PDF")


@needs_poppler
class TestPreviews:
    def test_the_first_page_is_drawn_small(self, personas: Personas) -> None:
        campaign = tabled(personas, 1)
        pdf = render_agreement_pdf(campaign, version=1)[0]
        png = first_page_png(pdf)
        assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width == 320 and 440 <= height <= 460 and len(png) < 60_000

    def test_only_readers_get_the_preview(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        make_demand(personas, campaign)
        kept = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
        url = reverse("bargaining:campaign_document_preview", kwargs={"code": campaign.code, "version": 1})
        response = login_as(Client(), personas.member).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff" and "no-cache" in response["Cache-Control"]
        assert response.content.startswith(b"\x89PNG")
        image = DocumentPreview.objects.get(document=kept.document).image
        assert DocumentCustody.objects.filter(document=image, action="read", actor_id=personas.member.pk).exists()
        for persona in (personas.outsider, personas.organizer):
            assert login_as(Client(), persona).get(url).status_code == 404
        assert Client().get(url).status_code == 302
        missing = reverse("bargaining:campaign_document_preview", kwargs={"code": campaign.code, "version": 2})
        assert login_as(Client(), personas.member).get(missing).status_code == 404
        # The campaign page shows it to the member, with a text alternative.
        page = login_as(Client(), personas.member).get(reverse("bargaining:campaign_detail",
                                                               kwargs={"code": campaign.code})).content.decode()
        assert f'src="{url}"' in page and 'alt="First page of version 1"' in page
