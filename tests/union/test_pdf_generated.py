"""Resources made for one document (union/pdf.py `generated=`): served by exact name, nothing more."""

from __future__ import annotations

import pytest

from union.pdf import BASE_URL, ResourceRefused, StaticFilesFetcher, watermark_svg


def test_it_serves_a_generated_resource_by_its_exact_name() -> None:
    fetcher = StaticFilesFetcher({"watermark.svg": (b"<svg/>", "image/svg+xml")})
    response = fetcher.fetch(f"{BASE_URL}generated/watermark.svg")
    assert response.read() == b"<svg/>" and response.headers["Content-Type"] == "image/svg+xml"


@pytest.mark.parametrize("path", [
    "generated/other.svg", "generated/watermark.svg?x=1", "generated/watermark.svg#f", "generated/",
    "generated/../static/css/pdf.css", "generated/%77atermark.svg",
])
def test_it_refuses_any_other_generated_name(path: str) -> None:
    fetcher = StaticFilesFetcher({"watermark.svg": (b"<svg/>", "image/svg+xml")})
    with pytest.raises(ResourceRefused):
        fetcher.fetch(f"{BASE_URL}{path}")


def test_another_host_is_refused_even_under_the_generated_path() -> None:
    fetcher = StaticFilesFetcher({"watermark.svg": (b"<svg/>", "image/svg+xml")})
    with pytest.raises(ResourceRefused):
        fetcher.fetch("https://example.org/generated/watermark.svg")


def test_without_generated_resources_nothing_is_served_there() -> None:
    with pytest.raises(ResourceRefused):
        StaticFilesFetcher().fetch(f"{BASE_URL}generated/watermark.svg")


def test_the_watermark_word_is_escaped() -> None:
    svg, content_type = watermark_svg('<script>&"x"')["watermark.svg"]
    assert content_type == "image/svg+xml"
    assert b"<script>" not in svg and b"&lt;script&gt;&amp;&quot;x&quot;" in svg
