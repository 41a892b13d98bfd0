"""Background work of grievances, through django-tasks (DESIGN.md, "Background work").

Task arguments are stored in clear by the database backend, so they carry ids only, never text a
person wrote: a letter's facts wait encrypted on its LetterRequest row.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django_tasks import task

from grievances.reminders import send_reminders
from grievances.services import letter_request_run


@task()
def issue_letter(*, request_id: int) -> int | None:
    """Render and store the letter a steward asked for; returns the letter's version."""
    request = letter_request_run(request_id=request_id)
    return request.letter.version if request is not None and request.letter is not None else None


@task()
def send_deadline_reminders(*, today: str | None = None) -> int:
    """Remind assigned stewards of deadlines due soon or overdue (idempotent per day); returns how many."""
    return send_reminders(date.fromisoformat(today) if today else timezone.localdate())
