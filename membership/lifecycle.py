"""The member status lifecycle: which changes are allowed. Services enforce it."""

from __future__ import annotations

from membership.models import Member

S = Member.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.APPLICANT: frozenset({S.PENDING, S.RESIGNED}),
    S.PENDING: frozenset({S.ACTIVE, S.REJECTED, S.RESIGNED}),
    S.ACTIVE: frozenset({S.LAPSED, S.SUSPENDED, S.RESIGNED}),
    S.LAPSED: frozenset({S.ACTIVE, S.SUSPENDED, S.RESIGNED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.RESIGNED}),
    S.RESIGNED: frozenset({S.PENDING}),
    S.REJECTED: frozenset({S.PENDING}),
}


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())
