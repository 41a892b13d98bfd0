"""The load balancer's health check: JSON, 200 or 503, GET only, never cached.

The database failure is real, not mocked: the request runs against a connection that points where
no database can be opened, installed for the current thread the way Django installs any
connection. The Redis cases live in test_realtime_redis.py.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from django.db import OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client
from pytest_django import Settings

if TYPE_CHECKING:
    from tests.base import TestResponse

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@contextmanager
def unreachable_database() -> Iterator[BaseDatabaseWrapper]:
    """Point this thread's default connection at a database that cannot be opened."""
    working = connections["default"]
    settings_dict = copy.deepcopy(working.settings_dict)
    if working.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-directory/tessera.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
        settings_dict.setdefault("OPTIONS", {})["connect_timeout"] = 2
    broken = type(working)(settings_dict, alias="default")
    connections["default"] = broken
    try:
        yield broken
    finally:
        broken.close()
        connections["default"] = working


@pytest.fixture(autouse=True)
def _in_memory_layer(settings: Settings) -> None:
    # CI sets REDIS_URL; this file is about the view, with the layer that cannot fail.
    settings.CHANNEL_LAYERS = IN_MEMORY


@pytest.mark.django_db
class TestHealthz:
    def test_it_reports_ok_as_json(self, client: Client) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}

    def test_it_answers_503_when_the_database_cannot_be_reached(self, client: Client) -> None:
        with unreachable_database() as broken:
            with pytest.raises(OperationalError):
                broken.ensure_connection()  # the failure is genuine
            response = client.get("/healthz")
        assert response.status_code == 503
        # The reason stays in the server: the public answer names only the failing part.
        assert response.json() == {"status": "error", "database": "error", "channel_layer": "ok"}

    def test_it_works_again_once_the_database_is_back(self, client: Client) -> None:
        with unreachable_database():
            assert client.get("/healthz").status_code == 503
        assert client.get("/healthz").status_code == 200

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_it_needs_get(self, client: Client, method: str) -> None:
        assert getattr(client, method)("/healthz").status_code == 405

    def test_it_is_never_cached(self, client: Client) -> None:
        for response in (client.get("/healthz"), self._unhealthy(client)):
            directives = {part.strip() for part in response["Cache-Control"].split(",")}
            assert {"no-cache", "no-store", "must-revalidate", "private"} <= directives

    def test_it_needs_no_login(self, client: Client) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200 and "Set-Cookie" not in response

    @staticmethod
    def _unhealthy(client: Client) -> TestResponse:
        with unreachable_database():
            return client.get("/healthz")
