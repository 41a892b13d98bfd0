"""Deadline reminders for assigned stewards. Idempotent per case, due date, steward and day."""

from __future__ import annotations

from datetime import date
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from grievances.models import Grievance, Reminder
from grievances.permissions import can_be_assigned
from union import emails
from union.realtime import notify_user


def send_reminders(today: date) -> int:
    """Remind each assigned steward of open cases due soon or overdue; return how many were sent."""
    sent = 0
    cases = (Grievance.objects.open().filter(steward__isnull=False, steward__is_active=True, due_date__isnull=False)
             .select_related("steward", "unit", "local"))
    for grievance in cases.iterator(chunk_size=500):
        steward, due_date = grievance.steward, grievance.due_date
        if steward is None or due_date is None or grievance.deadline_state(today) == "ok":
            continue  # the query leaves out cases without a steward or a due date
        if not can_be_assigned(steward, grievance.local):
            continue  # the assignment outlived the steward's role or membership: no officer news for them
        try:
            with transaction.atomic():
                Reminder.objects.create(grievance=grievance, due_date=due_date, sent_on=today, recipient=steward)
                with translation.override(steward.language or "en"):
                    text = _("Case %(number)s has a deadline on %(date)s.") % {
                        "number": grievance.number, "date": date_format(due_date, "DATE_FORMAT")}
                notify_user(steward.pk, kind="grievance.deadline", text=text, url=f"/grievances/{grievance.code}/")
                transaction.on_commit(partial(emails.account_news, steward))
        except IntegrityError:
            continue  # already reminded today about this deadline
        sent += 1
    return sent
