"""The demands document: a PDF of a campaign's articles, rendered through union/pdf.py and kept in
the shared document layer (kind "bargaining.demands", owner: the campaign's code).

Which hash is printed. A PDF cannot contain its own SHA-256 (writing the hash into the file
changes the file). So the PDF prints the SHA-256 of the *canonical demand set*: a JSON text
(sorted keys, UTF-8) of everything the document says (union, local, units, language, ratified or
draft, committee, each article's number, title, category, text, rationale, priority and cost, the
appendix figures, the date). Anyone holding the demands can recompute it with `content_digest`,
and any change to what the employer reads changes it. The PDF file's own SHA-256 is recorded by
the document layer, checked on every read, and shown on the campaign's documents page.

Same content, same bytes. The date printed is the date of the last change, not of rendering;
WeasyPrint writes no creation date unless the HTML asks for one, and the PDF identifier is derived
from the content hash, so two renders of unchanged content are byte-identical (a test checks it).
Unchanged content is not stored as a new version either: the latest version is returned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from typing import Any

from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from bargaining.markup import render_markdown
from bargaining.models import Campaign, Demand, DemandDocument, Survey
from bargaining.ratification import ratification
from bargaining.selectors import category_counts_for_campaign
from union import charts
from union.pdf import html_to_pdf, watermark_svg

KIND = "bargaining.demands"
TEMPLATE = "bargaining/pdf/demands.html"


def canonical_content(campaign: Campaign) -> dict[str, Any]:
    """Everything the document says, as plain data (strings, numbers, lists), in a fixed order."""
    demands = list(campaign.demands.order_by("number"))
    survey = closed_survey(campaign)
    changed = max([d.updated_at for d in demands] + [campaign.created_at]
                  + ([survey.closed_at] if survey is not None and survey.closed_at else []))
    # Ratified means a closed ballot that passed on what is printed (bargaining/ratification.py).
    votes = ratification(campaign, demands)
    committee = sorted(
        (getattr(getattr(user, "member", None), "pseudonym", "") for user in
         campaign.committee.select_related("member").order_by("pk")),
    )
    content: dict[str, Any] = {
        "union": campaign.local.union.name,
        "local": campaign.local.name,
        "campaign": campaign.name,
        "units": sorted(str(unit) for unit in campaign.units.select_related("employer", "client")),
        "language": campaign.language,
        "ratified": votes["ratified"],
        "ratification": votes["set"],
        "date": changed.date().isoformat(),
        "committee": committee,
        "articles": [
            {"number": d.number, "title": d.title, "category": d.category, "text": d.text,
             "rationale": d.rationale, "priority": d.priority, "cost_estimate": d.cost_estimate,
             "ratification": votes["articles"].get(d.number)}
            for d in demands
        ],
        "grievances_by_category": [[row["category__name"], row["cases"]]
                                   for row in category_counts_for_campaign(campaign)],
    }
    # Only when there is one, so the documents of campaigns without a survey keep their hash.
    if survey is not None:
        content["survey"] = survey_content(survey)
    return content


def closed_survey(campaign: Campaign) -> Survey | None:
    """The campaign's latest closed priorities survey: its published result goes in the appendix."""
    return (campaign.surveys.filter(status=Survey.Status.CLOSED, result__isnull=False)
            .order_by("-closed_at", "-pk").first())


def survey_content(survey: Survey) -> dict[str, Any]:
    """The published result as the document prints it: no ids, numbers as they were counted."""
    result = survey.result or {}
    keys = ("number", "title", "points", "mean_rank", "firsts") if survey.method == Survey.Method.RANKING \
        else ("number", "title", "dots", "backers")
    return {
        "method": survey.method, "dots": survey.dots, "anonymous": survey.anonymous,
        "responses": result.get("responses", 0), "eligible": result.get("eligible", 0),
        "closed_on": survey.closed_at.date().isoformat() if survey.closed_at else "",
        "rows": [{key: row.get(key) for key in keys} for row in result.get("rows", [])],
    }


def survey_chart(result: dict[str, Any], *, width: int = 520, label_chars: int = 34) -> SafeString:
    """A survey's result as horizontal bars: Borda points or dots per demand, most wanted first.

    Decorative for screen readers (union/charts.py): the page and the PDF print the table beside it.
    """
    ranking = result["method"] == "ranking"
    rows = [(gettext("Art. %(number)s %(title)s") % {"number": r["number"], "title": r["title"]},
             r["points"] if ranking else r["dots"]) for r in result["rows"]]
    title = gettext("Priorities: Borda points") if ranking else gettext("Priorities: dots")
    return charts.hbars(rows, title=title, width=width, row=28, label_width=int(width * 0.45),
                        label_chars=label_chars)


def content_digest(content: dict[str, Any]) -> str:
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def page_words() -> tuple[str, str, str]:
    """The words around the counters of "Page X of Y" in the active language (before, between, after).

    The template puts them in hidden elements whose `string-set` the footer reads, so the page
    needs no inline style (CSP, tests/union/test_security_headers.py) and the word order follows
    the translation.
    """
    words = gettext("Page {page} of {pages}")
    before, _sep, rest = words.partition("{page}")
    middle, _sep, after = rest.partition("{pages}")
    # string-set trims each part; the stylesheet puts one space between the parts and the counters.
    return before.strip(), middle.strip(), after.strip()


def render_context(campaign: Campaign, content: dict[str, Any], *, digest: str, version: int) -> dict[str, Any]:
    articles = []
    votes = {a["number"]: a["ratification"] for a in content["articles"]}
    for demand in campaign.demands.order_by("number"):
        articles.append({
            "ratification": _dated(votes.get(demand.number)),
            "demand": demand,
            # render_markdown escapes raw HTML and sanitizes (bargaining/markup.py).
            "text_html": mark_safe(render_markdown(demand.text)),  # noqa: S308
            "rationale_html": mark_safe(render_markdown(demand.rationale)) if demand.rationale else "",  # noqa: S308
            "category": Demand.Category(demand.category).label,
            "priority": Demand.Priority(demand.priority).label,
        })
    figures = [(gettext(name), count) for name, count in content["grievances_by_category"]]
    chart = charts.hbars(figures, title=gettext("Grievances by category"), width=520, row=28,
                         label_width=230, label_chars=34) if figures else ""
    survey = content.get("survey")
    return {
        "campaign": campaign, "content": content, "digest": digest, "version": version,
        "articles": articles, "figures": figures, "chart": chart, "draft": not content["ratified"],
        "ratification": _dated(content["ratification"]),
        "survey": survey, "survey_chart": survey_chart(survey) if survey and survey["rows"] else "",
        "survey_closed_on": date.fromisoformat(survey["closed_on"]) if survey and survey["closed_on"] else None,
        "date": date.fromisoformat(content["date"]),
        "committee": content["committee"], "page_words": page_words(),
        "footer_hash": gettext("Content SHA-256: {digest}").format(digest=digest),
    }


def _dated(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A ballot result as printed, its closing date as a date (the template formats it)."""
    if result is None:
        return None
    return {**result, "closed_on": date.fromisoformat(result["closed_on"])}


def render_demands_pdf(campaign: Campaign, *, version: int,
                       progress: Callable[[str], None] | None = None) -> tuple[bytes, str]:
    """The PDF (tagged, PDF/UA-1) in the campaign's language, and the content digest printed in it."""
    content = canonical_content(campaign)
    digest = content_digest(content)
    with translation.override(campaign.language):
        # The watermark is the page's background image, an artifact screen readers skip (union/pdf.py).
        generated = watermark_svg(gettext("DRAFT")) if not content["ratified"] else None
        pdf = html_to_pdf(TEMPLATE, render_context(campaign, content, digest=digest, version=version),
                          generated=generated, progress=progress,
                          pdf_variant="pdf/ua-1", pdf_identifier=digest[:32].encode("ascii"))
    return pdf, digest


def latest_document(campaign: Campaign) -> DemandDocument | None:
    return campaign.documents.select_related("document").order_by("-document__version").first()
