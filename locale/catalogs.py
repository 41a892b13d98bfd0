"""Keep the fr, sw and es catalogs complete: list what needs translating, then apply translations.

    make messages                                   # re-extract (needs GNU gettext), then compile
    .venv/bin/python locale/catalogs.py status      # counts; exits 1 while anything is missing
    .venv/bin/python locale/catalogs.py todo > todo.json
    # translate: for each entry of todo.json write {"fr": ..., "sw": ..., "es": ...}
    .venv/bin/python locale/catalogs.py apply todo.json
    make catalogs && .venv/bin/python -m pytest tests/union/test_catalogs.py

`todo` lists every entry that is empty or fuzzy in any language, keyed by msgid (with "msgctxt\\x04"
in front when there is a context), with the current fuzzy guess so a reviewer can start from it.
`apply` writes the translations (a list of forms for plurals, in the language's plural order),
clears the fuzzy flags, refuses a translation whose placeholders differ from the English, and puts
the right header on every catalog. See locale/README.md for the words we use.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polib

LOCALE = Path(__file__).resolve().parent
LANGUAGES = ("fr", "sw", "es")
# Plural rules as in Django's own catalogs, so one rule serves both.
NAMES = {"fr": "French", "sw": "Swahili (Kenya)", "es": "Spanish (Latin America)"}
HEADERS = {
    "fr": {"Language": "fr", "Plural-Forms": "nplurals=2; plural=(n > 1);"},
    "sw": {"Language": "sw", "Plural-Forms": "nplurals=2; plural=(n != 1);"},
    "es": {"Language": "es",
           "Plural-Forms": "nplurals=3; plural=n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2;"},
}
COMMON_HEADER = {"Project-Id-Version": "Tessera", "Report-Msgid-Bugs-To": "",
                 "Last-Translator": "Tessera translators", "MIME-Version": "1.0",
                 "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}
PERCENT = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGcoa%]")
BRACE = re.compile(r"(?<!\{)\{[^{}]*\}(?!\})")


def path_of(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def key_of(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid


def placeholders(text: str, flags: list[str]) -> list[str]:
    found = [p for p in PERCENT.findall(text) if p != "%%"] if "python-format" in flags else []
    if any(flag.endswith("brace-format") for flag in flags):  # brace-format, python-brace-format
        found += BRACE.findall(text)
    return sorted(found)


def needs_work(entry: polib.POEntry) -> bool:
    if entry.obsolete:
        return False
    if entry.fuzzy:
        return True
    if entry.msgid_plural:
        return not entry.msgstr_plural or not all(entry.msgstr_plural.values())
    return not entry.msgstr


def status() -> int:
    missing = 0
    for language in LANGUAGES:
        catalog = polib.pofile(str(path_of(language)))
        todo = [entry for entry in catalog if needs_work(entry)]
        missing += len(todo)
        print(f"{language}: {len(catalog)} entries, {len(todo)} to translate or review")
    return 1 if missing else 0


def todo() -> int:
    out: dict[str, dict[str, Any]] = {}
    for language in LANGUAGES:
        for entry in polib.pofile(str(path_of(language))):
            if not needs_work(entry):
                continue
            item = out.setdefault(key_of(entry), {"msgid": entry.msgid, "flags": [f for f in entry.flags if f != "fuzzy"]})
            if entry.msgid_plural:
                item["msgid_plural"] = entry.msgid_plural
            if entry.msgctxt:
                item["msgctxt"] = entry.msgctxt
            if entry.comment:
                item["comment"] = entry.comment
            item["where"] = [f"{path}:{line}" for path, line in entry.occurrences][:3]
            if entry.fuzzy:
                guess = [entry.msgstr_plural[i] for i in sorted(entry.msgstr_plural)] if entry.msgid_plural else entry.msgstr
                item.setdefault("fuzzy_guess", {})[language] = guess
            item.setdefault("languages", []).append(language)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


def _check(entry: polib.POEntry, language: str, forms: list[str]) -> None:
    english = placeholders(entry.msgid, entry.flags)
    if entry.msgid_plural:
        english = sorted(set(english) | set(placeholders(entry.msgid_plural, entry.flags)))
    for index, form in enumerate(forms):
        got = placeholders(form, entry.flags)
        if entry.msgid_plural:
            # As msgfmt --check: the first form may leave the count out ("One member"); the others
            # use every placeholder; no form uses one the English lacks.
            ok = set(got) <= set(english) if index == 0 else set(got) == set(english)
        else:
            ok = got == english
        if not ok:
            raise SystemExit(f"{language}: placeholders {got} differ from {english} in {entry.msgid!r}")


def _rewrap(path: Path) -> None:
    """Wrap lines as msgmerge does (when gettext is installed), so re-extraction leaves a small diff."""
    msgcat = shutil.which("msgcat")
    if msgcat:
        subprocess.run([msgcat, "-o", str(path), str(path)], check=True)  # noqa: S603 - fixed arguments


def apply(source: Path) -> int:
    translations: dict[str, dict[str, Any]] = json.loads(source.read_text())
    for language in LANGUAGES:
        catalog = polib.pofile(str(path_of(language)))
        catalog.header = (f"Tessera: {NAMES[language]} translation. Extract with `make messages`, translate with\n"
                          "locale/catalogs.py; the words we use are in locale/README.md.")
        catalog.metadata.update(COMMON_HEADER | HEADERS[language] | {"Language-Team": NAMES[language]})
        catalog.metadata["PO-Revision-Date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M+0000")
        catalog.metadata_is_fuzzy = False
        plural_forms = re.search(r"nplurals=(\d+)", HEADERS[language]["Plural-Forms"])
        assert plural_forms is not None, "every header above names nplurals"
        nplurals = int(plural_forms.group(1))
        for entry in catalog:
            given = translations.get(key_of(entry), {}).get(language)
            if given is None:
                continue
            if entry.msgid_plural:
                forms = [given] * nplurals if isinstance(given, str) else list(given)
                if len(forms) != nplurals:
                    raise SystemExit(f"{language} needs {nplurals} plural forms for {entry.msgid!r}")
                _check(entry, language, forms)
                entry.msgstr_plural = dict(enumerate(forms))
            else:
                _check(entry, language, [given])
                entry.msgstr = given
            if entry.fuzzy:
                entry.flags.remove("fuzzy")
            entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
        catalog.save()
        _rewrap(path_of(language))
    return status()


def main(argv: list[str]) -> int:
    if argv[:1] == ["status"]:
        return status()
    if argv[:1] == ["todo"]:
        return todo()
    if argv[:1] == ["apply"] and len(argv) == 2:
        return apply(Path(argv[1]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
