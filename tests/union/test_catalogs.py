"""The translation catalogs are complete and correct, and the pages really use them.

locale/README.md says how to extract and translate; these tests say when that is needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils.html import escape
from pytest_django.fixtures import Settings

LOCALE = Path(__file__).resolve().parents[2] / "locale"
LANGUAGES = ("fr", "sw", "es")
PERCENT = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGcoa%]")
BRACE = re.compile(r"(?<!\{)\{[^{}]*\}(?!\})")


def load(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def live(catalog: polib.POFile) -> list[polib.POEntry]:
    return [entry for entry in catalog if not entry.obsolete]


def forms(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


def untranslated(catalog: polib.POFile) -> list[str]:
    return [entry.msgid for entry in live(catalog) if not forms(entry) or not all(forms(entry))]


def fuzzy(catalog: polib.POFile) -> list[str]:
    header = ["(the header)"] if catalog.metadata_is_fuzzy else []
    return header + [entry.msgid for entry in live(catalog) if entry.fuzzy]


def placeholders(text: str, flags: list[str]) -> list[str]:
    found = [p for p in PERCENT.findall(text) if p != "%%"] if "python-format" in flags else []
    if any(flag.endswith("brace-format") for flag in flags):  # brace-format, python-brace-format
        found += BRACE.findall(text)
    return sorted(found)


def placeholder_mismatches(catalog: polib.POFile) -> list[str]:
    """Entries whose translation has other placeholders than the English: a crash or a lie at runtime."""
    wrong = []
    for entry in live(catalog):
        english = placeholders(entry.msgid, entry.flags)
        if entry.msgid_plural:
            english = sorted(set(english) | set(placeholders(entry.msgid_plural, entry.flags)))
        for index, text in enumerate(forms(entry)):
            got = placeholders(text, entry.flags)
            if entry.msgid_plural:
                # As msgfmt --check: the first form may leave the count out ("One member"); the
                # others use every placeholder; no form uses one the English lacks (a KeyError).
                ok = set(got) <= set(english) if index == 0 else set(got) == set(english)
            else:
                ok = got == english
            if not ok:
                wrong.append(f"{entry.msgid!r}: {got} instead of {english} in {text!r}")
    return wrong


def plural_count_mismatches(catalog: polib.POFile) -> list[str]:
    match = re.search(r"nplurals\s*=\s*(\d+)", catalog.metadata.get("Plural-Forms", ""))
    if match is None:
        return ["(the header has no Plural-Forms)"]
    expected = int(match.group(1))
    return [entry.msgid for entry in live(catalog) if entry.msgid_plural and len(entry.msgstr_plural) != expected]


def translation(language: str, msgid: str) -> str:
    entry = load(language).find(msgid)
    assert entry is not None, f"{msgid!r} is not in the {language} catalog: run `make messages`"
    assert entry.msgstr and entry.msgstr != msgid, f"{msgid!r} is not translated to {language}"
    return entry.msgstr


def test_it_ships_a_catalog_for_every_language_but_english() -> None:
    configured = {code for code, _name in settings.LANGUAGES} - {settings.LANGUAGE_CODE}
    assert configured == set(LANGUAGES)
    for language in LANGUAGES:
        catalog = load(language)
        assert catalog.metadata.get("Language") == language
        assert len(live(catalog)) > 50, f"the {language} catalog is nearly empty: was `make messages` run?"


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_translates_every_entry(language: str) -> None:
    assert untranslated(load(language)) == [], "translate these (locale/README.md says how)"


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_has_no_fuzzy_entries(language: str) -> None:
    assert fuzzy(load(language)) == [], "review these guesses and drop their fuzzy flag"


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_keeps_the_placeholders(language: str) -> None:
    assert placeholder_mismatches(load(language)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_it_gives_every_plural_all_its_forms(language: str) -> None:
    assert plural_count_mismatches(load(language)) == []


def test_the_checks_catch_a_broken_catalog() -> None:
    catalog = polib.POFile()
    catalog.metadata = {"Plural-Forms": "nplurals=2; plural=(n != 1);"}
    catalog.metadata_is_fuzzy = True
    catalog.append(polib.POEntry(msgid="Log in", msgstr=""))
    catalog.append(polib.POEntry(msgid="Log out", msgstr="Toka", flags=["fuzzy"]))
    catalog.append(polib.POEntry(msgid="Welcome, %(handle)s", msgstr="Karibu, %(name)s", flags=["python-format"]))
    catalog.append(polib.POEntry(msgid="Page %(n)s of %(total)s", msgstr="Ukurasa %(n)s", flags=["python-format"]))
    catalog.append(polib.POEntry(msgid="Hello {name}", msgstr="Habari", flags=["brace-format"]))
    catalog.append(polib.POEntry(msgid="{count} rooms", msgstr="vyumba {n}", flags=["python-brace-format"]))
    catalog.append(polib.POEntry(msgid="100% sure", msgstr="Hakika kabisa"))  # not python-format: no check
    catalog.append(polib.POEntry(
        msgid="%(n)s code left", msgid_plural="%(n)s codes left", flags=["python-format"],
        msgstr_plural={0: "Msimbo %(n)s umebaki", 1: ""},
    ))
    catalog.append(polib.POEntry(
        msgid="One member", msgid_plural="%(n)s members", flags=["python-format"],
        msgstr_plural={0: "Mwanachama mmoja", 1: "Wanachama %(n)s"},
    ))
    catalog.append(polib.POEntry(
        msgid="One vote", msgid_plural="%(n)s votes", flags=["python-format"],
        msgstr_plural={0: "Kura %(idadi)s", 1: "Kura %(n)s"},
    ))
    catalog.append(polib.POEntry(
        msgid="%(n)s room", msgid_plural="%(n)s rooms", flags=["python-format"], msgstr_plural={0: "chumba %(n)s"},
    ))

    assert untranslated(catalog) == ["Log in", "%(n)s code left"]
    assert fuzzy(catalog) == ["(the header)", "Log out"]
    assert [line.split(":")[0] for line in placeholder_mismatches(catalog)] == [
        "'Welcome, %(handle)s'", "'Page %(n)s of %(total)s'", "'Hello {name}'", "'{count} rooms'",
        "'%(n)s code left'", "'One vote'",
    ]
    assert plural_count_mismatches(catalog) == ["%(n)s room"]


@pytest.fixture
def compiled(settings: Settings) -> None:
    """Compile the catalogs, then make Django reload them (it caches translations per process)."""
    call_command("compile_catalogs", verbosity=0)
    settings.LOCALE_PATHS = list(settings.LOCALE_PATHS)


@pytest.mark.django_db
def test_it_renders_the_home_page_in_swahili_from_the_cookie(client: Client, compiled: None) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sw"
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="sw">' in page
    assert escape(translation("sw", "A union for the people who moderate and label for AI")) in page
    assert "A union for the people who moderate and label for AI" not in page


@pytest.mark.django_db
def test_it_renders_the_login_form_in_swahili_from_accept_language(client: Client, compiled: None) -> None:
    response = client.get("/account/login/", headers={"accept-language": "sw-KE,sw;q=0.9,en;q=0.5"})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="sw">' in page
    # A form label (gettext_lazy in Python) and a template string, both from the Swahili catalog.
    assert escape(translation("sw", "Handle or email")) in page
    assert escape(translation("sw", "Forgot your password?")) in page
    assert "Handle or email" not in page
