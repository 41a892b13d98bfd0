"""Demand text: a small Markdown subset rendered to HTML that is safe on a page and in a PDF.

Two independent locks, so one mistake in either does not open the door:
1. markdown-it-py parses with its "zero" preset plus only paragraphs, emphasis, lists, block quotes
   and links, and `html=False`: raw HTML in the text is escaped and shown as text, and image syntax
   is not a rule at all, so `![x](file:///etc/passwd)` stays literal text.
2. nh3 (the Ammonia sanitizer) then keeps only the tags that subset produces, and only https and
   mailto links: a `file://`, `http://` or `javascript:` href is dropped. A link never loads
   anything in a PDF or a page by itself; images, stylesheets and fonts would, and none survives.
union/pdf.py's fetcher stays the third line: it refuses every URL that is not our own static file.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {"p", "em", "strong", "ul", "ol", "li", "a", "blockquote", "br"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = {"https", "mailto"}


def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False})
    return md.enable(["emphasis", "list", "blockquote", "link", "newline", "escape"])


def render_markdown(text: str) -> str:
    """Sanitized HTML for a demand's text (mark it safe only after this call)."""
    html = _parser().render(text or "")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


# Words and the whitespace after them: joining the tokens gives back the text exactly.
_TOKEN = re.compile(r"\S+\s*|\s+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """The word-level difference as [(op, text)], op in "same", "insert", "delete".

    Shown with <ins> (underlined, bold) and <del> (struck through) plus a visually hidden
    "added:"/"removed:" label, so it reads in black and white and to a screen reader, not by colour.
    """
    a, b = _TOKEN.findall(old or ""), _TOKEN.findall(new or "")
    parts: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(("same", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            parts.append(("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            parts.append(("insert", "".join(b[j1:j2])))
    return parts


def field_diffs(old: Any, new: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Word diffs of each text field of two revisions; unchanged fields are marked as such."""
    rows = []
    for name in fields:
        before, after = _shown(old, name), _shown(new, name)
        if before != after and hasattr(old, f"get_{name}_display"):
            # A choice changes as a whole: "Pay" became "Job security", not a few words of it.
            parts = [("delete", before), ("insert", after)]
        else:
            parts = word_diff(before, after)
        rows.append({"field": name, "changed": before != after, "parts": parts})
    return rows


def _shown(revision: Any, name: str) -> str:
    # Choices are compared as people read them ("Workload and quotas"), never as stored codes.
    display = getattr(revision, f"get_{name}_display", None)
    value = display() if display is not None else getattr(revision, name)
    return str(value or "")
