"""Remind assigned stewards of grievance deadlines that are due soon or overdue.

Run once a day from a systemd timer (deploy/README.md). It enqueues the `send_deadline_reminders`
task: with the database backend (production) the worker (`db_worker`, deploy/tessera-worker.service)
sends the reminders and this command returns at once; with the immediate backend (development) the
task runs here and the command says how many were sent. A second run on the same day sends nothing new.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand
from django_tasks import TaskResultStatus

from grievances.tasks import send_deadline_reminders


class Command(BaseCommand):
    help = "Notify assigned stewards of deadlines due soon or overdue (idempotent per day)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--today", type=date.fromisoformat, help="pretend today is this date (YYYY-MM-DD)")

    def handle(self, *args: Any, today: date | None = None, **options: Any) -> None:
        result = send_deadline_reminders.enqueue(today=today.isoformat() if today else None)
        if result.status == TaskResultStatus.SUCCESSFUL:
            self.stdout.write(f"{result.return_value} reminder(s) sent.")
        elif result.status == TaskResultStatus.FAILED:
            self.stderr.write("The reminders task failed; see the log.")
            raise SystemExit(1)
        else:
            self.stdout.write(f"Reminders queued for the worker (task {result.id}).")
