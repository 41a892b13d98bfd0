"""What membership adds to every socket's re-check (`TESSERA_SESSION_CHECKS` in settings).

The core consumer (`union.consumers.AuthenticatedConsumer`) knows sessions only. Officers must also
have verified their second factor in the session, as `OfficerTwoFactorMiddleware` demands of HTTP
requests; and a socket was opened under the user's roles and member statuses, so when those change
(a role granted or removed, a suspension, a resignation, a rejection) it must close and reconnect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from membership.models import Member, RoleGrant
from membership.roles import OFFICER_ROLES


def two_factor_verified(session: SessionBase, user: Any) -> bool:
    """The same test django_otp's middleware applies to HTTP requests: a confirmed device of this user."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def socket_rights(pairs: list[tuple[Any, SessionBase]]) -> list[Hashable | None]:
    """For each (user, session): None for an officer without a verified second factor; else the
    user's roles and member statuses, which the socket compares with those it opened under.

    Two queries for any number of sockets, plus one device lookup per officer. Who counts as an
    officer is `membership.selectors.needs_two_factor`'s rule (staff, or an officer role
    anywhere), read here from the roles fetched for all users at once.
    """
    user_ids = {user.pk for user, _session in pairs}
    roles: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for user_id, local_id, role in RoleGrant.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "local_id", "role"):
        roles[user_id].append((local_id, role))
    statuses: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for user_id, local_id, status in Member.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "local_id", "status"):
        statuses[user_id].append((local_id, status))
    answers: list[Hashable | None] = []
    for user, session in pairs:
        officer = user.is_staff or user.is_superuser or any(role in OFFICER_ROLES for _l, role in roles[user.pk])
        if officer and not two_factor_verified(session, user):
            answers.append(None)
            continue
        answers.append((bool(user.is_staff), bool(user.is_superuser), tuple(sorted(roles[user.pk])),
                        tuple(sorted(statuses[user.pk]))))
    return answers
