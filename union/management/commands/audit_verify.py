"""Check the audit chain: report the first record that was edited, inserted or deleted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from union.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log. Exits with status 1 at the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(f"Audit chain broken after {report.checked} good record(s): {report.problem}")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} record(s) verified."))
