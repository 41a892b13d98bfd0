"""Authorization expectations for the grievance cases pages (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

EXPECTATIONS: dict = {}
