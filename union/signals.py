"""Signals the core offers so that feature apps can follow each other without importing each other."""

from __future__ import annotations

from django.dispatch import Signal

# Who belongs where changed: someone's role or membership status in a local (membership), or the
# steward of a case (grievances). Sent inside the transaction that made the change, with
# `local_id` and, for a case, `grievance_id`; a receiver that tells anyone waits for the commit.
# The rooms listen: their admins' pages learn at once that a rotation is due (messaging.receivers).
roll_changed = Signal()
