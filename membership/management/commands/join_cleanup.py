"""Delete sign-ups whose confirmation link has expired, and old join counters. Run it hourly."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from membership import throttle
from membership.services import join_cleanup


class Command(BaseCommand):
    help = ("Delete unconfirmed accounts (and handle reservations) whose confirmation link has expired, "
            "freeing their handles, and join-form counters of finished windows.")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = join_cleanup()
        counters = throttle.forget_old()
        self.stdout.write(f"{accounts} expired unconfirmed account(s) deleted; {counters} old counter(s) dropped.")
