"""Shared SVG chart parts (union/charts.py), used by the membership and grievance dashboards."""

from __future__ import annotations

import re

from grievances import charts as grievance_charts
from membership import charts as membership_charts
from union import charts
from union.charts import Column


def test_the_wrapper_is_decorative_scalable_and_escapes_the_title() -> None:
    out = str(charts.svg(width=100, height=40, title='<script>"x"</script>', body=charts.join([])))
    assert out.startswith('<svg class="chart" viewBox="0 0 100 40" width="100%" role="img" aria-hidden="true"')
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "style=" not in out  # the strict CSP allows no style attribute


def test_labels_are_cut_and_escaped() -> None:
    assert charts.short("abcdef", 4) == "abc…" and charts.short("abc", 4) == "abc"
    out = str(charts.hbars([("<b>Health & safety</b> and more", 3), ("Pay", 0)], title="t", width=400, row=30,
                           label_width=170, label_chars=12, css="cat"))
    assert "<b>" not in out and "&lt;b&gt;Health" in out and "…" in out
    assert out.count('<g class="cat">') == 2
    widths = [float(w) for w in re.findall(r'<rect x="170" y="[\d.]+" width="([\d.]+)"', out)]
    assert widths == [190.0, 0.0]  # the largest count fills the span; zero draws nothing


def test_columns_scale_to_the_largest_and_survive_all_zero() -> None:
    out = str(charts.columns([Column("a", 2), Column("b", 4)], title="t", width=200, height=160, base=135,
                             tallest=110, gap=6, count_size=15, label_size=13, label_gap=8))
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="#9b1c31"', out)]
    assert heights == [55.0, 110.0]
    empty = str(charts.columns([Column("a", 0)], title="t", width=200, height=160, base=135, tallest=110, gap=6,
                               count_size=15, label_size=13, label_gap=8))
    assert 'height="0.0"' in empty
    assert "<svg" in str(charts.columns([], title="t", width=200, height=160, base=135, tallest=110, gap=6,
                                        count_size=15, label_size=13, label_gap=8))


def test_both_dashboards_draw_with_the_shared_parts() -> None:
    for module in (membership_charts, grievance_charts):
        assert module.charts is charts
        assert not {"_n", "_short", "_svg"} & set(vars(module))
    out = str(grievance_charts.bars_svg([grievance_charts.Bar(label="Pay", count=1)], title="t"))
    assert out.startswith('<svg class="chart"')
