"""The tentative-agreement document: what was won against what was asked, made like the demands document.

Same pipeline (bargaining/documents.py): a canonical content whose SHA-256 is printed on the cover
and in the footer, a tagged PDF/UA-1 file in the campaign's language through union/pdf.py, kept by
the shared document layer (kind "bargaining.agreement", owner: the campaign's code) with its
first-page preview, rendered by a background task with live progress. Keeping it (store, preview,
audit) is bargaining/services.py's `agreement_generate`; this module only composes and renders. It lists the articles that
are agreed or tentatively agreed, in article order, each with the agreed text, what the members
asked and the word-level changes between them; then the articles still open or withdrawn.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from bargaining.documents import content_digest, page_words
from bargaining.markup import render_markdown, word_diff
from bargaining.models import Campaign
from bargaining.models_table import AgreementDocument
from bargaining.table import SETTLED, table_rows
from union.pdf import html_to_pdf, watermark_svg

KIND = "bargaining.agreement"
TEMPLATE = "bargaining/pdf/agreement.html"


def canonical_content(campaign: Campaign) -> dict[str, Any]:
    """Everything the agreement document says, as plain data in a fixed order."""
    rows = table_rows(campaign)
    times = [campaign.created_at] + [r["status_change"].created_at for r in rows if r["status_change"]]
    times += [r["current"].created_at for r in rows if r["current"]]
    committee = sorted(getattr(getattr(user, "member", None), "pseudonym", "")
                       for user in campaign.committee.select_related("member").order_by("pk"))
    settled = [r for r in rows if r["status"] in SETTLED and r["agreed"] is not None]
    settled_ids = {r["demand"].pk for r in settled}
    return {
        "union": campaign.local.union.name,
        "local": campaign.local.name,
        "campaign": campaign.name,
        "units": sorted(str(unit) for unit in campaign.units.select_related("employer", "client")),
        "language": campaign.language,
        "date": max(times).date().isoformat(),
        "committee": committee,
        "articles": [
            {"number": r["demand"].number, "title": r["demand"].title, "status": r["status"],
             "text": r["agreed"].text, "source": r["agreed"].source, "asked": r["asked"].text,
             "since": r["status_change"].created_at.date().isoformat()}
            for r in settled
        ],
        "others": [{"number": r["demand"].number, "title": r["demand"].title, "status": r["status"]}
                   for r in rows if r["demand"].pk not in settled_ids],
    }


def has_agreed_articles(campaign: Campaign) -> bool:
    return bool(canonical_content(campaign)["articles"])


def render_context(content: dict[str, Any], *, digest: str, version: int) -> dict[str, Any]:
    from bargaining.models_table import DemandStatusChange, TableEntry

    articles = [{
        **article,
        # render_markdown escapes raw HTML and sanitizes (bargaining/markup.py).
        "text_html": mark_safe(render_markdown(article["text"])),  # noqa: S308
        "asked_html": mark_safe(render_markdown(article["asked"])),  # noqa: S308
        "changed": article["asked"] != article["text"],
        "diff": word_diff(article["asked"], article["text"]),
        "status_label": DemandStatusChange.Status(article["status"]).label,
        "source_label": TableEntry.Source(article["source"]).label,
        "since": date.fromisoformat(article["since"]),
    } for article in content["articles"]]
    others = [{**other, "status_label": DemandStatusChange.Status(other["status"]).label}
              for other in content["others"]]
    all_agreed = all(a["status"] == DemandStatusChange.Status.AGREED for a in content["articles"])
    return {
        "content": content, "digest": digest, "version": version, "articles": articles, "others": others,
        "all_agreed": all_agreed, "date": date.fromisoformat(content["date"]), "page_words": page_words(),
        "footer_hash": gettext("Content SHA-256: {digest}").format(digest=digest),
    }


def render_agreement_pdf(campaign: Campaign, *, version: int,
                         progress: Callable[[str], None] | None = None) -> tuple[bytes, str]:
    """The PDF (tagged, PDF/UA-1) in the campaign's language, and the content digest printed in it."""
    content = canonical_content(campaign)
    digest = content_digest(content)
    with translation.override(campaign.language):
        context = render_context(content, digest=digest, version=version)
        # Until every article is agreed (not only tentatively), each page says so, as an artifact.
        generated = None if context["all_agreed"] else watermark_svg(gettext("TENTATIVE"))
        pdf = html_to_pdf(TEMPLATE, context, generated=generated, progress=progress,
                          pdf_variant="pdf/ua-1", pdf_identifier=digest[:32].encode("ascii"))
    return pdf, digest


def latest_agreement(campaign: Campaign) -> AgreementDocument | None:
    return campaign.agreements.select_related("document").order_by("-document__version").first()
