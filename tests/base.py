"""Named personas, built once per test: one of each role in a local, and an outsider.

Officers log in with a verified two-factor session (`login_as`), as they must in real use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY

from membership.devices import Authenticator
from membership.models import Local, User
from membership.selectors import needs_two_factor
from tests.factories import make_local, make_member, make_totp, make_union

if TYPE_CHECKING:
    # What django.test.Client returns: a response with .context, .templates and .json() added
    # (django-stubs' name for it; the class exists only in the stubs).
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse  # noqa: F401

PERSONAS = ("anonymous", "member", "steward", "organizer", "representative", "local_admin", "outsider")


@dataclass
class Personas:
    local: Local
    other_local: Local
    member: User
    steward: User
    organizer: User
    representative: User
    local_admin: User
    outsider: User

    def get(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


def build_personas() -> Personas:
    union = make_union()
    local, other = make_local(union, "Nairobi"), make_local(union, "Manila")
    people = {
        role: make_member(local, role, handle=f"{role.replace('_', '')}{local.pk}")
        for role in ("member", "steward", "organizer", "representative", "local_admin")
    }
    outsider = make_member(other, "member", handle=f"outsider{other.pk}")
    for role in ("steward", "organizer", "representative", "local_admin"):
        make_totp(people[role])
    return Personas(local=local, other_local=other, outsider=outsider, **people)


def login_as(client: Client, user: User | None) -> Client:
    """Log the client in; officers get a session verified with their TOTP device."""
    if user is None:
        return client
    client.force_login(user)
    if needs_two_factor(user):
        device = Authenticator.objects.filter(user=user, confirmed=True).first() or make_totp(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
