"""Tests that need a real service (PostgreSQL, Redis, Chromium) skip without it and say why.

CI sets TESSERA_REQUIRE_SERVICES=1, which turns every such skip into a failure, so a green CI run
never hides a test that did not run.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_SERVICES = os.environ.get("TESSERA_REQUIRE_SERVICES", "") == "1"
CHROMIUM = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")


def need(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1 makes this a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    need(bool(url), "REDIS_URL is not set: no Redis to test against")
    return url


def chromium_path() -> str:
    need(shutil.which(CHROMIUM) is not None, f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM
