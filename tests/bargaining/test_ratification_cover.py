"""The demands document says what the members voted: the ballot on the cover, the watermark until it passed.

Ratified means the latest closed ballot on the whole set carried and nothing changed since it opened
(bargaining/ratification.py); per-article ballots print under their article. The DRAFT watermark is
the page's background, which WeasyPrint marks as an /Artifact: it is on every page for the eye and
the text layer, and absent from the structure tree a screen reader follows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from bargaining.ballots import ballot_close, ballot_open, vote_cast
from bargaining.documents import canonical_content, render_demands_pdf
from bargaining.models import Ballot, Campaign, DemandDocument
from bargaining.services import demand_update, demands_document_generate
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas
from tests.factories import make_member

pytestmark = pytest.mark.django_db

POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) is not installed")


def run(tool: list[str], pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "d.pdf"
    path.write_bytes(pdf)
    return subprocess.run([*tool, str(path), *([] if tool[0] == "pdfinfo" else ["-"])], check=True,
                          capture_output=True, text=True).stdout.replace("\u00a0", " ")


def vote(p: Personas, campaign: Campaign, choices: list[str], **opening: object) -> Ballot:
    """A closed ballot: the member and the steward (the unit's active members) vote `choices`."""
    ballot = ballot_open(actor=p.representative, campaign=campaign, **opening)  # type: ignore[arg-type]
    for voter, choice in zip([p.member, p.steward], choices, strict=False):
        vote_cast(voter=voter, ballot=ballot, choice=choice)
    return ballot_close(actor=p.representative, ballot=ballot)


def two_articles(p: Personas) -> Campaign:
    campaign = make_campaign(p)
    make_demand(p, campaign, title="Paid wellness breaks")
    make_demand(p, campaign, title="A living wage", text="A wage that pays the rent.")
    return campaign


@needs_poppler
def test_a_carried_ballot_is_printed_on_the_cover_and_lifts_the_watermark(personas: Personas, tmp_path: Path) -> None:
    campaign = two_articles(personas)
    ballot = vote(personas, campaign, ["yes", "yes"])
    content = canonical_content(campaign)
    assert content["ratified"] is True and content["ratification"]["cast"] == 2
    pdf, _digest = render_demands_pdf(campaign, version=1)
    cover = run(["pdftotext", "-layout"], pdf, tmp_path).split("\f")[0]
    assert "Ratified by the members" in cover and "Carried" in cover
    assert "2 of 2 eligible voters voted" in cover and "quorum of 50% met" in cover
    assert re.search(r"Yes 2, no 0, abstain 0", cover)
    assert ballot.closed_at is not None and str(ballot.closed_at.year) in cover.split("closed on")[1]
    assert "DRAFT" not in run(["pdftotext", "-raw"], pdf, tmp_path)


@needs_poppler
def test_a_failed_or_stale_vote_leaves_the_draft_watermark(personas: Personas, tmp_path: Path) -> None:
    campaign = two_articles(personas)
    # Quorum of 100% with one of two voting: not carried.
    vote(personas, campaign, ["yes"], quorum_percent=100)
    content = canonical_content(campaign)
    assert content["ratified"] is False and content["ratification"]["quorum_met"] is False
    pdf, _digest = render_demands_pdf(campaign, version=1)
    text = run(["pdftotext", "-layout"], pdf, tmp_path)
    assert "Not carried" in text and "quorum of 100% not met" in text and "Draft: not yet ratified" in text
    # A later ballot that carried decides; then an article edited after it opened undoes it.
    vote(personas, campaign, ["yes", "no"], threshold_percent=40)
    assert canonical_content(campaign)["ratified"] is True
    demand = campaign.demands.get(number=2)
    demand_update(actor=personas.representative, demand=demand, grievances=[], text="A wage that pays rent and food.")
    content = canonical_content(campaign)
    assert content["ratified"] is False and content["ratification"]["changed_since"] is True
    text = run(["pdftotext", "-layout"], render_demands_pdf(campaign, version=2)[0], tmp_path)
    assert "not the text the members ratified" in re.sub(r"\s+", " ", text)


def test_an_open_ballot_decides_nothing_and_the_stage_does_not_either(personas: Personas) -> None:
    campaign = two_articles(personas)
    ballot_open(actor=personas.representative, campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.CONCLUDED)
    campaign.refresh_from_db()
    content = canonical_content(campaign)
    assert content["ratified"] is False and content["ratification"] is None


def test_per_article_ballots_print_under_their_article_and_ratify_only_all_together(personas: Personas) -> None:
    campaign = two_articles(personas)
    first, second = campaign.demands.order_by("number")
    vote(personas, campaign, ["yes", "yes"], demand=first)
    content = canonical_content(campaign)
    assert content["articles"][0]["ratification"]["carried"] is True
    assert content["articles"][1]["ratification"] is None and content["ratified"] is False
    vote(personas, campaign, ["yes", "abstain"], demand=second)
    assert canonical_content(campaign)["ratified"] is True
    # A whole-set ballot, once closed, decides over the per-article ones.
    vote(personas, campaign, ["no", "no"])
    assert canonical_content(campaign)["ratified"] is False


def test_the_kept_document_records_the_ballots_verdict(personas: Personas) -> None:
    campaign = two_articles(personas)
    draft = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
    vote(personas, campaign, ["yes", "yes"])
    ratified = demands_document_generate(actor_id=personas.representative.pk, campaign_id=campaign.pk)
    assert (draft.ratified, ratified.ratified) == (False, True)
    assert ratified.document.version == 2 and DemandDocument.objects.count() == 2
    assert ratified.content_sha256 != draft.content_sha256  # the result is part of the printed content


def test_a_newcomer_after_the_vote_changes_nothing(personas: Personas) -> None:
    campaign = two_articles(personas)
    vote(personas, campaign, ["yes", "yes"])
    make_member(personas.local, handle="latecomer")
    assert canonical_content(campaign)["ratification"]["eligible"] == 2


@needs_poppler
def test_the_watermark_is_an_artifact_outside_the_structure_tree(personas: Personas, tmp_path: Path) -> None:
    campaign = two_articles(personas)
    pdf, _digest = render_demands_pdf(campaign, version=1)
    pages = [page for page in run(["pdftotext", "-raw"], pdf, tmp_path).split("\f") if page.strip()]
    # Seen on every page (the text layer still has it, for search and for the eye)...
    assert len(pages) >= 4 and all("DRAFT" in page for page in pages)
    # ... but a screen reader, which follows the structure tree, never meets it.
    tree = run(["pdfinfo", "-struct-text"], pdf, tmp_path)
    assert "Paid wellness breaks" in tree and "DRAFT" not in tree
    # The page content marks it as an artifact: on each page, the background image (a form XObject
    # drawn with "Do") sits between "/Artifact BMC" and its "EMC". Pages with no watermark have none.
    streams = [zlib.decompress(m.group(1)) for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
               if _inflatable(m.group(1))]
    drawn = [s for s in streams if re.search(rb"/Artifact\s+BMC(?:(?!EMC).)*?/x\d+\s+Do", s, re.S)]
    assert len(drawn) == len(pages)
    ratified = two_articles(personas)
    vote(personas, ratified, ["yes", "yes"])
    clean, _digest = render_demands_pdf(ratified, version=1)
    assert not [s for s in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", clean, re.S) if _inflatable(s)
                and re.search(rb"/Artifact\s+BMC(?:(?!EMC).)*?/x\d+\s+Do", zlib.decompress(s), re.S)]


def _inflatable(data: bytes) -> bool:
    try:
        zlib.decompress(data)
    except zlib.error:
        return False
    return True
