"""Remind assigned stewards of grievance deadlines that are due soon or overdue.

Run once a day from cron or a systemd timer (deploy/README.md); a second run on the same day sends
nothing new.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from grievances.reminders import send_reminders


class Command(BaseCommand):
    help = "Notify assigned stewards of deadlines due soon or overdue (idempotent per day)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--today", type=date.fromisoformat, help="pretend today is this date (YYYY-MM-DD)")

    def handle(self, *args: Any, today: date | None = None, **options: Any) -> None:
        sent = send_reminders(today or timezone.localdate())
        self.stdout.write(f"{sent} reminder(s) sent.")
