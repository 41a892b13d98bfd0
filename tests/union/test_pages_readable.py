"""What a person reads: no raw codes, each language named in itself, tables that work on a phone.

Rendered pages are parsed as HTML; each persona opens the pages their role reaches.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import translation

from grievances.defaults import ensure_defaults
from grievances.models import Grievance
from membership.models import Member
from tests.base import Personas, login_as
from tests.grievances.factories import make_case

# Stored codes that must never reach a page as text (labels are capitalised and translated).
RAW_CODES = {
    "member", "steward", "organizer", "representative", "local_admin",                 # roles
    "applicant", "pending", "active", "lapsed", "suspended", "resigned", "rejected",   # member statuses
    "paid_up", "arrears", "exempt",                                                    # dues
    "draft", "open", "closed",                                                         # case statuses
    "sw", "en", "tl", "fr", "es",                                                      # languages
    "contract", "pay", "health", "workload", "deactivation", "retaliation", "other",   # categories
}
# A node's segments (a table cell, "Pay · Open · Step 1", "2 (sw)"); a segment is raw when every
# comma-separated part of it is a code ("sw, en"), so a sentence mentioning "deactivation" is not.
SEGMENTS = re.compile(r"[·;:()\[\]/|—–]|\s{2,}")


class Text(HTMLParser):
    """The visible text of a page, one string per text node (scripts and styles left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(data.strip())


def raw_codes_in(html: str) -> set[str]:
    parser = Text()
    parser.feed(html)
    found: set[str] = set()
    for node in parser.nodes:
        for segment in SEGMENTS.split(node):
            parts = {part.strip() for part in segment.split(",") if part.strip()}
            if parts and parts <= RAW_CODES:
                found |= parts
    return found


@pytest.fixture
def data(personas: Personas) -> Grievance:
    """Languages, dues and a grievance, so every field a page could show raw is filled in."""
    ensure_defaults(personas.local.union)
    for user in (personas.member, personas.steward, personas.organizer, personas.representative,
                 personas.local_admin):
        member = Member.objects.get(user=user)
        member.set_languages(["sw", "en", "tl"])
        member.dues = Member.Dues.PAID_UP
        member.save()
    return make_case(personas, category="health")


def pages_for(personas: Personas, case: Grievance) -> list[str]:
    local = personas.local.code
    member = Member.objects.get(user=personas.member).code
    return ["/", "/me/", "/me/edit/", "/cards/", f"/roll/{local}/", f"/roll/{local}/?status=active",
            f"/roll/members/{member}/", f"/locals/{local}/dashboard/", f"/locals/{local}/support/",
            "/grievances/", "/grievances/own/", "/grievances/mine/", f"/grievances/locals/{local}/dashboard/",
            f"/grievances/{case.code}/", f"/grievances/{case.code}/work/"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["member", "steward", "organizer", "representative", "local_admin"])
def test_no_page_shows_a_raw_code(personas: Personas, data: Grievance, persona: str) -> None:
    client = login_as(Client(), personas.get(persona))
    opened = 0
    for path in pages_for(personas, data):
        response = client.get(path)
        if response.status_code != 200:
            continue
        opened += 1
        found = raw_codes_in(response.content.decode())
        assert not found, f"{persona} reads raw codes {sorted(found)} on {path}"
    assert opened >= 4


@pytest.mark.django_db
def test_languages_are_named_in_themselves(personas: Personas, data: Grievance) -> None:
    client = login_as(Client(), personas.organizer)
    member = Member.objects.get(user=personas.member)
    for path in ("/me/", f"/roll/{personas.local.code}/", f"/roll/members/{member.code}/"):
        page = client.get(path, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
        assert '<span lang="sw">Kiswahili</span>, <span lang="en">English</span>, <span lang="tl">Tagalog</span>' \
            in page, path


@pytest.mark.django_db
def test_the_grievance_dashboard_filter_names_categories_in_the_readers_language(
    personas: Personas, data: Grievance,
) -> None:
    page = login_as(Client(), personas.local_admin).get(
        f"/grievances/locals/{personas.local.code}/dashboard/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    select = page[page.index('name="category"'):]
    select = select[:select.index("</select>")]
    with translation.override("fr"):
        french = translation.gettext("Health and safety")
    assert french != "Health and safety", "the French catalog should translate the category"
    assert f">{french}</option>" in select and "Health and safety" not in select


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "fr", "sw", "es"])
def test_the_language_menu_names_each_language_in_itself_and_marks_the_current_one(language: str) -> None:
    page = Client().get("/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    buttons = re.findall(r'<button type="submit" name="language" value="(\w+)" lang="\1" class="link"'
                         r'( aria-current="true")?>([^<]+)</button>', page)
    assert [(code, name) for code, _current, name in buttons] == [
        ("en", "English"), ("fr", "Français"), ("sw", "Kiswahili"), ("es", "Español")]
    assert [code for code, current, _name in buttons if current] == [language]


class Tables(HTMLParser):
    """For each <table>, the attributes of the <div> around it (None when it has no wrapper)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.wrappers: list[dict[str, str | None] | None] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "table":
            parent = self.stack[-1] if self.stack else None
            self.wrappers.append(parent[1] if parent and parent[0] == "div" else None)
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "col", "wbr"):
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["organizer", "local_admin", "steward"])
def test_every_table_scrolls_in_a_region_the_keyboard_can_reach(
    personas: Personas, data: Grievance, persona: str,
) -> None:
    client = login_as(Client(), personas.get(persona))
    seen = 0
    for path in [*pages_for(personas, data), "/audit/", f"/grievances/{data.code}/letters/"]:
        response = client.get(path)
        if response.status_code != 200:
            continue
        parser = Tables()
        parser.feed(response.content.decode())
        for wrapper in parser.wrappers:
            seen += 1
            assert wrapper is not None, f"a table on {path} has no scrolling wrapper"
            assert "table-wrap" in (wrapper.get("class") or "") and wrapper.get("tabindex") == "0", path
            assert wrapper.get("role") == "region", path
            label, labelled_by = (wrapper.get("aria-label") or "").strip(), wrapper.get("aria-labelledby")
            assert label or (labelled_by and labelled_by in parser.ids), f"an unnamed table region on {path}"
    assert seen >= 5


@pytest.mark.django_db
def test_starting_a_letter_from_the_narrative_is_not_the_primary_action(personas: Personas, data: Grievance) -> None:
    page = login_as(Client(), personas.steward).get(f"/grievances/{data.code}/letters/").content.decode()
    narrative = re.search(r'<button type="submit"( class="[^"]*")?>Start from the case narrative', page)
    issue = re.search(r'<button type="submit"( class="[^"]*")?>Issue the letter', page)
    assert narrative and issue, "both buttons should be on the page"
    assert narrative.group(1) == ' class="secondary"' and issue.group(1) is None
