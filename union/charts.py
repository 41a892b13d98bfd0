"""Small server-rendered SVG charts shared by the dashboards (membership, grievances, bargaining next).

Plain SVG with presentation attributes (fill, stroke) and classes, never a style attribute, so the
charts pass the strict CSP. Each chart is decorative for screen readers (`aria-hidden`): the page
puts an HTML table with the same numbers beside it. Every label and title is escaped by
`format_html`; numbers are written with one decimal so the markup stays short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

INK, MUTED, RULE, BAR = "#1d1d1f", "#5b5b66", "#8a877e", "#9b1c31"


@dataclass
class Column:
    """One vertical bar: its count, and the label under it (empty for none)."""

    label: str
    count: int


def n(x: float) -> str:
    """A coordinate with one decimal."""
    return f"{x:.1f}"


def short(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis, so a long label stays on its row."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def join(parts: Sequence[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def svg(*, width: int, height: float, title: str, body: SafeString) -> SafeString:
    """The `<svg>` element every chart uses: scales to its container, hidden from screen readers."""
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-hidden="true" '
        'focusable="false" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>{body}</svg>',
        w=width, h=height, title=title, body=body,
    )


def hbars(rows: Sequence[tuple[str, int]], *, title: str, width: int, row: int, label_width: int,
          label_chars: int, css: str = "bar") -> SafeString:
    """Horizontal bars: label on the left, the bar, and the count written after it."""
    most = max((count for _label, count in rows), default=0) or 1
    span = width - label_width - 40
    parts = [
        format_html(
            '<g class="{css}"><text x="0" y="{ty}" font-size="13" fill="{ink}">{label}</text>'
            '<rect x="{x}" y="{y}" width="{w}" height="20" fill="{bar}"/>'
            '<text x="{cx}" y="{ty}" font-size="13" fill="{ink}">{n}</text></g>',
            css=css, ty=i * row + 19, label=short(label, label_chars), x=label_width, y=i * row + 4,
            w=n(span * count / most), cx=n(label_width + span * count / most + 6), n=count, ink=INK, bar=BAR,
        )
        for i, (label, count) in enumerate(rows)
    ]
    return svg(width=width, height=max(len(rows), 1) * row + 4, title=title, body=join(parts))


def columns(cols: Sequence[Column], *, title: str, width: int, height: int, base: int, tallest: int, gap: int,
            count_size: int, label_size: int, label_gap: int) -> SafeString:
    """Vertical bars on a base line, the count above each bar and its label below.

    `tallest` is the height in pixels of the largest bar; `label_gap` how far above the bottom edge
    the labels sit.
    """
    most = max((c.count for c in cols), default=0) or 1
    slot = width / max(len(cols), 1)
    parts = []
    for i, col in enumerate(cols):
        h, x = tallest * col.count / most, i * slot + gap / 2
        parts.append(format_html(
            '<g><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{bar}"/>'
            '<text x="{cx}" y="{ty}" font-size="{cs}" text-anchor="middle" fill="{ink}">{n}</text>'
            '<text x="{cx}" y="{ly}" font-size="{ls}" text-anchor="middle" fill="{muted}">{label}</text></g>',
            x=n(x), y=n(base - h), w=n(slot - gap), h=n(h), cx=n(x + (slot - gap) / 2), ty=n(base - h - 4),
            n=col.count, ly=height - label_gap, label=col.label, cs=count_size, ls=label_size, bar=BAR, ink=INK,
            muted=MUTED,
        ))
    body = format_html('<line x1="0" x2="{w}" y1="{b}" y2="{b}" stroke="{rule}"/>{bars}', w=width, b=base, rule=RULE,
                       bars=join(parts))
    return svg(width=width, height=height, title=title, body=body)
