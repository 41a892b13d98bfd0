"""Errors and messages shared by membership's services."""

from __future__ import annotations

ERR_DUPLICATE = "duplicate"


class MembershipError(Exception):
    """A write that must not happen; the message is safe to show to the person who tried."""


class DuplicateSignup(MembershipError):
    """Someone with this email or phone has already signed in this union."""
