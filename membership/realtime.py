"""What membership adds to every socket's re-check (`TESSERA_SESSION_CHECKS` in settings).

The core consumer (`union.consumers.AuthenticatedConsumer`) knows sessions only. Officers must also
have verified their second factor in the session, as `OfficerTwoFactorMiddleware` demands of HTTP
requests; and a socket was opened under the user's roles and member statuses, so when those change
(a role granted or removed, a suspension, a resignation, a rejection) it must close and reconnect.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from membership.models import Member, RoleGrant
from membership.selectors import needs_two_factor


def two_factor_verified(session: SessionBase, user: Any) -> bool:
    """The same test django_otp's middleware applies to HTTP requests: a confirmed device of this user."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def socket_rights(user: Any, session: SessionBase) -> Hashable | None:
    """None for an officer without a verified second factor; else the user's roles and statuses.

    The summary is compared with the one taken when the socket opened: any difference closes it.
    """
    if needs_two_factor(user) and not two_factor_verified(session, user):
        return None
    roles = tuple(sorted(RoleGrant.objects.filter(user=user).values_list("local_id", "role")))
    statuses = tuple(sorted(Member.objects.filter(user=user).values_list("local_id", "status")))
    return (bool(user.is_staff), bool(user.is_superuser), roles, statuses)
