"""Authorization expectations for the roll pages (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

EXPECTATIONS: dict = {}
