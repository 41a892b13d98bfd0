"""Each person sees dates and times in their own time zone.

A user may choose a zone (`User.time_zone`); otherwise they see their local's (`Local.time_zone`,
where its members work), and otherwise the server's default (`TESSERA_TIME_ZONE`). The middleware
activates that zone for the request, so templates, `timezone.localdate()` and forms all use it.

The local's zone is looked up once, at login, and kept in the session: pages must not pay a query
for it (the roll and dashboards count their queries). A session older than this looks it up on
its first page. A local that changes its zone shows the new one at its members' next login.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from membership.models import User

SESSION_KEY = "tessera_local_time_zone"
ERR_UNKNOWN_ZONE = _("Choose a time zone from the list.")
# Regions of the IANA database people live in; the rest (Etc/GMT+3, US/Eastern...) are aliases.
_REGIONS = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/")


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """The zones a person may choose, by region and city, plus UTC."""
    names = sorted(n for n in zoneinfo.available_timezones() if n.startswith(_REGIONS))
    return ("UTC", *names)


def validate_time_zone(value: str) -> None:
    if value and value not in time_zone_names():
        raise ValidationError(ERR_UNKNOWN_ZONE, code="time_zone")


def time_zone_choices() -> list[tuple[str, str]]:
    """Choices for a select: "Africa/Nairobi" reads as "Africa / Nairobi"."""
    return [(name, name.replace("_", " ").replace("/", " / ")) for name in time_zone_names()]


def local_time_zone_name(user: User) -> str:
    """The time zone of the user's local, or "" when they have none or it has none."""
    from membership.models import Local

    return Local.objects.filter(members__user=user).values_list("time_zone", flat=True).first() or ""


def time_zone_name_for(user: Any, session: Any = None) -> str:
    """The zone this user sees: their own choice, their local's, or "" (the server's default)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    if user.time_zone:
        return str(user.time_zone)
    if session is None:
        return local_time_zone_name(user)
    if SESSION_KEY not in session:
        session[SESSION_KEY] = local_time_zone_name(user)
    return str(session[SESSION_KEY])


def remember_local_time_zone(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """At login (`user_logged_in`): keep the local's zone in the new session."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = local_time_zone_name(user)


class TimeZoneMiddleware:
    """Activates the person's time zone for the request (after the authentication middleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = time_zone_name_for(getattr(request, "user", None), getattr(request, "session", None))
        try:
            zone = zoneinfo.ZoneInfo(name) if name in time_zone_names() else None
        except zoneinfo.ZoneInfoNotFoundError:  # a zone removed from the system's database
            zone = None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class TimeZoneForm(forms.Form):
    """The form of /me/time-zone/: "automatic" (the local's zone) or one zone by region and city."""

    time_zone = forms.ChoiceField(
        label=_("Time zone"), required=False,
        help_text=_("Dates and times on this site are shown in this time zone."),
        error_messages={"invalid_choice": ERR_UNKNOWN_ZONE},
    )

    def __init__(self, data: Any = None, *, user: User) -> None:
        super().__init__(data, initial={"time_zone": user.time_zone})
        automatic = local_time_zone_name(user) or settings.TIME_ZONE
        self.fields["time_zone"].choices = [  # type: ignore[attr-defined]
            ("", _("Your local's: %(zone)s") % {"zone": automatic.replace("_", " ").replace("/", " / ")}),
            *time_zone_choices(),
        ]


def user_set_time_zone(*, user: User, time_zone: str) -> None:
    """Record the zone a person chose ("" for their local's). A display preference: not audited."""
    validate_time_zone(time_zone)
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
