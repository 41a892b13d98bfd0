"""Pages stay light and accessible: weight with everything they load, labels, landmarks, language."""

from __future__ import annotations

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from tests.base import Personas, login_as

# DESIGN.md: "a typical page weighs under 100 KB over the wire". These are the lightest pages,
# measured uncompressed, so they must stay well under it.
BUDGET = 100 * 1024
PAGES = [("/", False), ("/account/login/", False), ("/account/", True)]
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")


class Page(HTMLParser):
    """Collects what the checks need from one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def all(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def _parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def _get(client: Client, personas: Personas, path: str, logged_in: bool, **extra: Any) -> str:
    if logged_in:
        login_as(client, personas.member)
    response = client.get(path, **extra)
    assert response.status_code == 200, f"{path} answered {response.status_code}"
    return response.content.decode()


def _static_path(url: str) -> str | None:
    """The path below STATIC_URL of a same-origin static URL, or None for anything else."""
    url = url.split("#")[0].split("?")[0]
    if url.startswith(settings.STATIC_URL):
        return url[len(settings.STATIC_URL) :]
    return None


def _static_weight(path: str, seen: set[str]) -> int:
    """Bytes of one static file plus, for stylesheets, everything it pulls in (fonts, images)."""
    if path in seen:
        return 0
    seen.add(path)
    found = finders.find(path)
    assert found, f"/static/{path} is referenced but no static finder has it"
    data = Path(found).read_bytes()
    total = len(data)
    if path.endswith(".css"):
        for match in CSS_URL.finditer(data.decode("utf-8")):
            ref = match.group(1) or match.group(2)
            if ref.startswith("data:"):
                continue
            if ref.startswith("/"):
                nested = _static_path(ref)
                assert nested is not None, f"{path} references {ref} outside /static/"
            else:
                nested = _normalise(posixpath.join(posixpath.dirname(path), ref.split("#")[0].split("?")[0]))
            total += _static_weight(nested, seen)
    return total


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            assert parts, f"{path} climbs out of the static root"
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _referenced_static(page: Page) -> list[str]:
    urls = [attrs.get("href") for attrs in page.all("link")]
    urls += [attrs.get("src") for name in ("script", "img", "source", "audio", "video", "iframe", "embed")
             for attrs in page.all(name)]
    urls += [attrs.get("data") for attrs in page.all("object")]
    paths = []
    for url in urls:
        if url and (path := _static_path(url)) is not None:
            paths.append(path)
    return paths


@pytest.mark.parametrize(("path", "logged_in"), PAGES)
def test_page_with_its_static_resources_is_well_under_100_kb(
    client: Client, personas: Personas, path: str, logged_in: bool
) -> None:
    html = _get(client, personas, path, logged_in)
    page = _parse(html)
    referenced = _referenced_static(page)
    assert any(p.endswith(".css") for p in referenced), "no stylesheet found: the scan is not looking"
    seen: set[str] = set()
    total = len(html.encode()) + sum(_static_weight(p, seen) for p in referenced)
    assert total < BUDGET * 0.6, f"{path} weighs {total} bytes with {sorted(seen)}"


@pytest.mark.parametrize(("path", "logged_in"), PAGES)
def test_every_form_field_has_a_label(client: Client, personas: Personas, path: str, logged_in: bool) -> None:
    page = _parse(_get(client, personas, path, logged_in))
    labelled = {attrs.get("for") for attrs in page.all("label")}
    ids = {attrs.get("id") for _tag, attrs in page.tags}
    fields = [(tag, attrs) for tag, attrs in page.tags if tag in ("input", "select", "textarea")]
    checked = 0
    for tag, attrs in fields:
        if tag == "input" and (attrs.get("type") or "text").lower() in ("hidden", "submit", "button", "reset", "image"):
            continue
        checked += 1
        name = attrs.get("name")
        if (attrs.get("aria-label") or "").strip():
            continue
        if labelledby := attrs.get("aria-labelledby"):
            assert set(labelledby.split()) <= ids, f"{tag} {name!r}: aria-labelledby names no element"
            continue
        assert attrs.get("id") and attrs["id"] in labelled, f"{tag} {name!r} on {path} has no label"
    # The language menu is a row of buttons (named by their text), so a page may have no field.
    assert checked or page.all("button"), "no form control found: the language menu at least should be there"


@pytest.mark.parametrize(("path", "logged_in"), PAGES)
def test_landmarks(client: Client, personas: Personas, path: str, logged_in: bool) -> None:
    page = _parse(_get(client, personas, path, logged_in))
    assert len(page.all("main")) == 1
    assert page.all("header")
    navs = page.all("nav")
    assert navs and all((nav.get("aria-label") or "").strip() for nav in navs), "every <nav> needs an aria-label"


@pytest.mark.parametrize(("path", "logged_in"), PAGES)
@pytest.mark.parametrize("language", ["en", "fr", "sw", "es"])
def test_html_lang_is_the_active_language(
    client: Client, personas: Personas, path: str, logged_in: bool, language: str
) -> None:
    assert language in dict(settings.LANGUAGES)
    response_html = _get(client, personas, path, logged_in, HTTP_ACCEPT_LANGUAGE=f"{language},en;q=0.1")
    html_tags = _parse(response_html).all("html")
    assert len(html_tags) == 1
    assert html_tags[0].get("lang") == language
