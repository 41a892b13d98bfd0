"""Compile the translation catalogs (.po to .mo) in pure Python: no GNU gettext needed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile every locale/*/LC_MESSAGES/*.po into .mo, when the .po is newer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true", help="Compile even when the .mo looks current.")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        compiled = 0
        for base in settings.LOCALE_PATHS:
            for po_path in sorted(Path(base).glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                catalog = polib.pofile(str(po_path))
                # Fuzzy entries are guesses awaiting review; like msgfmt, leave them out.
                for entry in catalog.fuzzy_entries():
                    catalog.remove(entry)
                # Written beside, then renamed: a server (or a parallel test worker) reading the
                # catalog meanwhile sees the old file or the new one, never half of one.
                fd, partial = tempfile.mkstemp(dir=mo_path.parent, prefix=".", suffix=".mo")
                os.close(fd)
                try:
                    catalog.save_as_mofile(partial)
                    os.replace(partial, mo_path)
                except BaseException:
                    Path(partial).unlink(missing_ok=True)
                    raise
                compiled += 1
        if options.get("verbosity", 1) > 1 or compiled:
            self.stdout.write(f"compiled {compiled} catalog(s)")
