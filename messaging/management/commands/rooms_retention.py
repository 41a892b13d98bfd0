"""Delete the rooms' ciphertext older than each room's retention; run daily (deploy/)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from messaging.services import rooms_apply_retention


class Command(BaseCommand):
    help = "Delete room messages (and the wraps of ended epochs) older than each room's retention."

    def handle(self, *args: Any, **options: Any) -> None:
        done = rooms_apply_retention()
        self.stdout.write(f"Deleted {done['messages']} messages and {done['wraps']} wraps past retention.")
