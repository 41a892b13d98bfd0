"""Deactivate an account from the command line: it cannot log in, and every session ends now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from membership.backends import find_user
from membership.services import user_deactivate


class Command(BaseCommand):
    help = "Deactivate a user (by handle or email) and end all of their sessions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("login", help="handle or email")
        parser.add_argument("--reason", required=True,
                            help="why (kept encrypted on the account; the audit log records only the deactivation)")

    def handle(self, *args: Any, login: str, reason: str, **options: Any) -> None:
        user = find_user(login)
        if user is None:
            raise CommandError("No such user.")
        user_deactivate(actor=None, user=user, reason=reason)
        self.stdout.write(f"{user.handle} is deactivated; all of their sessions have ended.")
