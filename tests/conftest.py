from __future__ import annotations

import pytest
from pytest_django import Settings

from tests.base import Personas, build_personas


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The browser tests share one live Daphne and its database (a session fixture): one worker
    # runs them all, so it is started once, and two Chromiums do not fight over the two cores.
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture
def personas(db: None) -> Personas:
    return build_personas()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Settings) -> None:
    # Argon2 at production cost makes a large suite slow; tests that check hashing set it back.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Documents (cards, letters) and evidence are written under MEDIA_ROOT: never the developer's own.
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _no_equal_time_floor(settings: Settings) -> None:
    # The equal-time floor (union/timing.py) would add a second to every join, reset and login
    # POST; tests/union/test_timing.py sets a real floor where the timing is what it checks.
    settings.TESSERA_EQUAL_TIME_SECONDS = 0.0
