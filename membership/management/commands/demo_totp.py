"""Print the current two-factor code of a demo officer (development only)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from membership.devices import Authenticator


class Command(BaseCommand):
    help = "Print the current TOTP code of a user's authenticator (refused in production)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("handle")

    def handle(self, *args: Any, handle: str, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_totp refuses to run in production.")
        device = Authenticator.objects.filter(user__handle=handle, confirmed=True).first()
        if device is None:
            raise CommandError(f"No confirmed authenticator for {handle!r}.")
        left = device.step - int(time.time() - device.t0) % device.step
        self.stdout.write(f"{device.current_code()}  (valid for {left} more seconds)")
