"""The demands PDF: content, order, hashes, tags, language, watermark, and hostile text."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from bargaining.documents import canonical_content, content_digest, render_demands_pdf
from bargaining.models import Campaign, Demand, DemandDocument
from bargaining.services import demand_update, demands_document_generate
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas, login_as
from tests.grievances.factories import make_case
from union.documents import document_read

pytestmark = pytest.mark.django_db

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) is not installed")


def pdf_text(pdf: bytes, tmp_path: Path, mode: str = "-layout") -> str:
    path = tmp_path / "d.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", mode, str(path), "-"], check=True, capture_output=True, text=True).stdout
    return out.replace("\u00a0", " ")


def campaign_with_articles(p: Personas, n: int = 3, **fields: object) -> Campaign:
    campaign = make_campaign(p, **fields)
    titles = ["Paid wellness breaks", "A living wage", "Name the client", "Quotas we can meet", "No fixed-term churn"]
    for i in range(n):
        make_demand(p, campaign, title=titles[i % len(titles)] + ("" if i < len(titles) else f" {i}"),
                    category=list(Demand.Category)[i % 7], rationale="Because the cases say so." if i % 2 else "")
    return campaign


def keep(pdf: bytes, name: str) -> None:
    # For a person to look at (pdftoppm): only when asked, never in CI.
    if os.environ.get("TESSERA_KEEP_PDF"):
        Path(os.environ["TESSERA_KEEP_PDF"], name).write_bytes(pdf)


@needs_poppler
def test_the_articles_extract_in_order_with_cover_contents_and_footer(personas: Personas, tmp_path: Path) -> None:
    make_case(personas, category="pay")
    make_case(personas, category="pay")
    make_case(personas, category="health")
    campaign = campaign_with_articles(personas, 5)
    pdf, digest = render_demands_pdf(campaign, version=1)
    keep(pdf, "demands-en.pdf")
    text = pdf_text(pdf, tmp_path)
    flat = re.sub(r"\s+", " ", text)
    pages = text.split("\f")
    # Cover: union, units, version, date, draft status and the content hash.
    assert personas.local.union.name in pages[0] and "Version" in pages[0] and "Draft: not yet ratified" in pages[0]
    assert str(campaign.units.get()).split(" · ")[0] in pages[0] and digest in flat
    # Contents with page numbers: "Article 1. Paid wellness breaks .... 3".
    assert re.search(r"Article 1\. Paid wellness breaks[ .]+3\b", pages[1])
    # The articles in order, and each body page has "Page X of Y" and the content hash in its footer.
    body = "\f".join(pages[2:])
    positions = [body.find(f"Article {n}. ") for n in range(1, 6)]
    assert -1 not in positions and positions == sorted(positions)
    total = len([p for p in pages if p.strip()])
    assert f"Page 3 of {total}" in text and f"Content SHA-256: {digest}" in pages[2]
    # Appendix (grievances by category) and the committee's signature block.
    assert "Appendix: supporting figures" in body and re.search(r"Pay\s+2", body)
    assert "Bargaining committee" in body and "representative" in body.split("Bargaining committee")[-1]
    # The watermark on every page (rotated, so read in content-stream order).
    raw_pages = [page for page in pdf_text(pdf, tmp_path, "-raw").split("\f") if page.strip()]
    assert all("DRAFT" in page for page in raw_pages)


def test_unchanged_content_renders_to_the_same_bytes_and_is_not_stored_twice(personas: Personas) -> None:
    campaign = campaign_with_articles(personas, 2)
    first, digest1 = render_demands_pdf(campaign, version=1)
    again, digest2 = render_demands_pdf(campaign, version=1)
    assert first == again and digest1 == digest2
    kept = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
    same = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
    assert same.pk == kept.pk and DemandDocument.objects.count() == 1
    assert kept.content_sha256 == content_digest(canonical_content(campaign))
    stored = document_read(document=kept.document, actor_id=personas.representative.pk)
    assert hashlib.sha256(stored).hexdigest() == kept.document.sha256
    # One word changed: a new version, a new content hash.
    demand = campaign.demands.first()
    assert demand is not None
    demand_update(actor=personas.representative, demand=demand, grievances=[], text="One word changed.")
    newer = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
    assert newer.document.version == 2 and newer.content_sha256 != kept.content_sha256


@needs_poppler
def test_the_pdf_is_tagged_with_a_structure_tree_in_article_order(personas: Personas, tmp_path: Path) -> None:
    campaign = campaign_with_articles(personas, 3)
    pdf, _digest = render_demands_pdf(campaign, version=1)
    path = tmp_path / "d.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"Tagged:\s+yes", info)
    meta = subprocess.run(["pdfinfo", "-meta", str(path)], check=True, capture_output=True, text=True).stdout
    assert 'pdfuaid:part="1"' in meta
    tree = subprocess.run(["pdfinfo", "-struct-text", str(path)], check=True, capture_output=True, text=True).stdout
    assert "Document" in tree and re.search(r"\bH2\b", tree)
    headings = re.findall(r"Article (\d)\. ", tree)
    # Contents first (1, 2, 3), then the articles themselves in the same order.
    assert headings[-3:] == ["1", "2", "3"]


@needs_poppler
@pytest.mark.parametrize("language", ["fr", "sw", "es"])
def test_it_prints_in_the_campaign_language(personas: Personas, tmp_path: Path, language: str) -> None:
    campaign = campaign_with_articles(personas, 1, language=language)
    make_demand(personas, campaign, title="Santé mentale: pause payée, ñandú, ŝ", text="Élan «ça» — mañana.")
    pdf, _digest = render_demands_pdf(campaign, version=1)
    keep(pdf, f"demands-{language}.pdf")
    text = pdf_text(pdf, tmp_path)
    # The characters survive (shipped fonts), whatever the translation catalogs hold today, and
    # the cover's date is written in the campaign's language ("1 Disemba 2026").
    with translation.override(language):
        printed = date_format(date.fromisoformat(canonical_content(campaign)["date"]), "DATE_FORMAT")
    assert printed in text and printed != date_format(date.fromisoformat(canonical_content(campaign)["date"]),
                                                      "DATE_FORMAT")
    assert "Santé mentale: pause payée, ñandú" in text and "Élan «ça» — mañana." in text


@needs_poppler
def test_hostile_demand_text_neither_runs_nor_loads(personas: Personas, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    campaign = make_campaign(personas)
    make_demand(personas, campaign, title="<b>Bold</b> title",
                text='<img src="file:///etc/passwd"> ![x](file:///etc/hostname) ![y](http://127.0.0.1:9/x.png) '
                     '<link rel="stylesheet" href="http://127.0.0.1:9/a.css"> <script>document.write("RAN")</script>',
                rationale="<style>@import url(file:///etc/passwd);</style>")
    pdf, _digest = render_demands_pdf(campaign, version=1)
    text = pdf_text(pdf, tmp_path)
    assert "root:" not in text and "RAN" not in text.replace('document.write("RAN")', "")
    assert '<img src="file:///etc/passwd">' in re.sub(r"\s+", " ", text)  # shown as text
    assert "<b>Bold</b> title" in text
    # Nothing was even asked of the fetcher: the sanitizer left no URL to load.
    assert "refused" not in caplog.text
    assert b"/Subtype /Image" not in pdf


def test_a_tabled_stage_alone_does_not_ratify(personas: Personas, tmp_path: Path) -> None:
    # Ratified means a closed ballot that passed (tests/bargaining/test_ratification_cover.py), not a stage.
    campaign = campaign_with_articles(personas, 1)
    Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.TABLED)
    campaign.refresh_from_db()
    pdf, _digest = render_demands_pdf(campaign, version=1)
    if POPPLER:
        text = pdf_text(pdf, tmp_path, "-raw")
        assert "DRAFT" in text and "Draft: not yet ratified" in text
    assert canonical_content(campaign)["ratified"] is False


class TestDocumentPages:
    def test_the_committee_generates_and_members_download_the_same_file(self, personas: Personas) -> None:
        campaign = campaign_with_articles(personas, 2)
        rep = login_as(Client(), personas.representative)
        response = rep.post(reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code}))
        assert response.status_code == 302
        kept = DemandDocument.objects.get()
        page = login_as(Client(), personas.member).get(
            reverse("bargaining:campaign_documents", kwargs={"code": campaign.code})).content.decode()
        assert kept.document.sha256 in page and kept.content_sha256 in page
        download = login_as(Client(), personas.member).get(reverse(
            "bargaining:campaign_document_download", kwargs={"code": campaign.code, "version": 1}))
        assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
        assert hashlib.sha256(download.content).hexdigest() == kept.document.sha256
        # Asking again with nothing changed keeps one version.
        rep.post(reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code}))
        assert DemandDocument.objects.count() == 1

    def test_a_member_may_not_generate_and_an_outsider_sees_nothing(self, personas: Personas) -> None:
        campaign = campaign_with_articles(personas, 1)
        url = reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code})
        assert login_as(Client(), personas.member).post(url).status_code == 403
        assert login_as(Client(), personas.outsider).post(url).status_code == 404
        assert not DemandDocument.objects.exists()
        missing = reverse("bargaining:campaign_document_download", kwargs={"code": campaign.code, "version": 7})
        assert login_as(Client(), personas.member).get(missing).status_code == 404

    def test_an_empty_campaign_has_nothing_to_print(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        url = reverse("bargaining:campaign_document_generate", kwargs={"code": campaign.code})
        response = login_as(Client(), personas.representative).post(url, follow=True)
        assert b"Add a demand before generating" in response.content and not DemandDocument.objects.exists()


def closed_survey_for(p: Personas, campaign: Campaign, method: str = "ranking") -> None:
    from bargaining.consultation import survey_close, survey_open, survey_respond

    Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.CONSULTATION)
    survey = survey_open(actor=p.representative, campaign=campaign, method=method, dots=5)
    ids = [d.pk for d in survey.demands.order_by("number")]
    if method == "ranking":  # the member puts article 2 first, the steward too
        survey_respond(user=p.member, survey=survey, values={ids[0]: 2, ids[1]: 1, ids[2]: 3})
        survey_respond(user=p.steward, survey=survey, values={ids[0]: 3, ids[1]: 1, ids[2]: 2})
    else:
        survey_respond(user=p.member, survey=survey, values={ids[0]: 1, ids[1]: 4, ids[2]: 0})
    survey_close(actor=p.representative, survey=survey)


@needs_poppler
def test_the_appendix_prints_the_survey_results(personas: Personas, tmp_path: Path) -> None:
    make_case(personas, category="pay")
    campaign = campaign_with_articles(personas, 3)
    closed_survey_for(personas, campaign)
    content = canonical_content(campaign)
    assert [row["number"] for row in content["survey"]["rows"]] == [2, 1, 3]  # a tie: article order
    pdf, digest = render_demands_pdf(campaign, version=1)
    keep(pdf, "demands-survey.pdf")
    text = pdf_text(pdf, tmp_path)
    appendix = re.sub(r"\s+", " ", text.split("Appendix: supporting figures")[-1])
    # Grievances by category stay, then the survey: how many answered, the method, the table.
    assert "Grievances the local has handled" in appendix and "The members' priorities" in appendix
    assert "2 of 2 members of the units answered" in appendix and "Borda" in appendix
    # n = 3: article 2 first twice (2 + 2 points), article 3 (0 + 1), article 1 (1 + 0); mean ranks.
    assert re.search(r"Article 2\. A living wage 4 1\.00 2", appendix)
    assert re.search(r"Article 3\. Name the client 1 2\.50 0", appendix)
    assert re.search(r"Article 1\. Paid wellness breaks 1 2\.50 0", appendix)
    # The chart is there too (its labels are drawn text: "Art. 2 A living wage").
    assert "Art. 2 A living wage" in appendix
    assert f"Content SHA-256: {digest}" in text


def test_the_survey_appendix_keeps_the_hash_deterministic(personas: Personas) -> None:
    campaign = campaign_with_articles(personas, 3)
    without = content_digest(canonical_content(campaign))
    assert "survey" not in canonical_content(campaign)  # documents without a survey keep their old hash
    closed_survey_for(personas, campaign, method="dots")
    first, digest1 = render_demands_pdf(campaign, version=1)
    again, digest2 = render_demands_pdf(campaign, version=1)
    assert first == again and digest1 == digest2 != without
    assert canonical_content(campaign)["survey"]["rows"][0] == {"number": 2, "title": "A living wage", "dots": 4,
                                                                "backers": 1}
    kept = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
    assert kept.content_sha256 == digest1
    assert demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk).pk == kept.pk
