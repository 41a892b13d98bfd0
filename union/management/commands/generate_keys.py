"""Print fresh production keys in environment-file format. Nothing is written to disk.

    manage.py generate_keys                      # all three keys for a new installation
    manage.py generate_keys --rotate "$TESSERA_DATA_KEYS"   # a new primary data key, old ones kept

The output goes to standard output only, so the operator decides where it lands (see
deploy/README.md: an environment file readable by root alone, plus an offline copy: the keys are
not in the database backup and the backup is worthless without them).
"""

from __future__ import annotations

import itertools
import secrets
import string
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from union import crypto

# Key ids name the year a key was made, then a letter: k2026a, k2026b, ... A later `rotate`
# within the same year takes the next free letter, so ids never repeat inside one key ring.
KEY_ID_PREFIX = "k"


def _suffixes() -> Iterator[str]:
    letters = string.ascii_lowercase
    for length in itertools.count(1):
        for combo in itertools.product(letters, repeat=length):
            yield "".join(combo)


def new_key_id(taken: set[str], today: date | None = None) -> str:
    stem = f"{KEY_ID_PREFIX}{(today or date.today()).year}"
    return next(stem + suffix for suffix in _suffixes() if stem + suffix not in taken)


def _secret_key() -> str:
    # URL-safe characters only: no '$', '#' or quotes for an env file or a shell to mangle.
    return secrets.token_urlsafe(60)


class Command(BaseCommand):
    help = "Print new TESSERA_SECRET_KEY, TESSERA_DATA_KEYS and TESSERA_BLIND_INDEX_KEY values (env-file format)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--rotate",
            metavar="CURRENT_DATA_KEYS",
            help="The current TESSERA_DATA_KEYS value; print it with a new primary key in front.",
        )

    def handle(self, *args: Any, rotate: str | None = None, **options: Any) -> None:
        if rotate is not None:
            self._rotate(rotate)
            return
        kid = new_key_id(set())
        self.stdout.write(
            "# Tessera production keys. Keep this file readable by root only, and keep an offline copy:\n"
            "# the keys are not in the database backup, and without them the backup cannot be read.\n"
            f"TESSERA_SECRET_KEY={_secret_key()}\n"
            f"TESSERA_DATA_KEYS={kid}:{crypto.generate_key()}\n"
            f"TESSERA_BLIND_INDEX_KEY={crypto.generate_key()}\n"
        )

    def _rotate(self, current: str) -> None:
        try:
            ring = crypto._parse_ring(current)
        except ImproperlyConfigured as exc:
            raise CommandError(f"--rotate: {exc}") from None
        kid = new_key_id(set(ring.keys))
        existing = [item.strip() for item in current.split(",") if item.strip()]
        self.stdout.write(
            f"# New primary data key {kid}; the old keys follow so existing data still decrypts.\n"
            "# Deploy this value everywhere, restart, then run `manage.py rotate_data_keys`;\n"
            "# drop an old key only once that command reports nothing left under it.\n"
            f"TESSERA_DATA_KEYS={','.join([f'{kid}:{crypto.generate_key()}', *existing])}\n"
        )
