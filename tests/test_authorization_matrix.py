"""Every URL of the project, requested by every persona, answers as expected.

A new URL pattern without a row here fails `test_every_url_has_an_expectation`: decide who may
see it before it ships. Rows list the status for each persona, in the order of `PERSONAS`:
anonymous, member, steward, organizer, representative, local admin, outsider (another local).
Officers are logged in with a verified two-factor session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.base import PERSONAS, Personas, login_as

Kwargs = Callable[[Personas], dict[str, Any]]


def none(p: Personas) -> dict[str, Any]:
    return {}


#                              anon  member steward organizer rep  admin  outsider
EXPECTATIONS: dict[str, tuple[Kwargs, tuple[int, ...]]] = {
    "home": (none, (200, 200, 200, 200, 200, 200, 200)),
    "healthz": (none, (200, 200, 200, 200, 200, 200, 200)),
    "set_language": (none, (405, 405, 405, 405, 405, 405, 405)),  # POST only
    "audit_log": (none, (302, 404, 404, 404, 404, 200, 404)),
    "account:login": (none, (200, 302, 302, 302, 302, 302, 302)),
    "account:logout": (none, (405, 405, 405, 405, 405, 405, 405)),
    "account:home": (none, (302, 200, 200, 200, 200, 200, 200)),
    "account:password_change": (none, (302, 200, 200, 200, 200, 200, 200)),
    "account:password_reset": (none, (200, 200, 200, 200, 200, 200, 200)),
    "account:password_reset_done": (none, (200, 200, 200, 200, 200, 200, 200)),
    "account:password_reset_confirm": (
        lambda p: {"uidb64": "MQ", "token": "bad-token"}, (200, 200, 200, 200, 200, 200, 200)
    ),
    "account:password_reset_complete": (none, (200, 200, 200, 200, 200, 200, 200)),
    "account:logout_everywhere": (none, (302, 405, 405, 405, 405, 405, 405)),
    "account:two_factor_setup": (none, (302, 200, 200, 200, 200, 200, 200)),
    "account:two_factor_verify": (none, (302, 200, 200, 200, 200, 200, 200)),
    "account:two_factor_qr": (none, (302, 404, 404, 404, 404, 404, 404)),
}


def _merge_area_expectations() -> None:
    """Each area keeps its rows in tests/<app>/authz_<area>.py; they join the table here."""
    import importlib
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("*/authz_*.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.{path.stem}")
        clash = set(module.EXPECTATIONS) & set(EXPECTATIONS)
        assert not clash, f"{path.name} repeats rows: {clash}"
        EXPECTATIONS.update(module.EXPECTATIONS)


_merge_area_expectations()


def url_names(patterns: list[Any] | None = None, namespace: str = "") -> list[str]:
    names = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names += url_names(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            names.append(f"{namespace}{entry.name}" if entry.name else f"<unnamed {entry.pattern}>")
    return names


def test_every_url_has_an_expectation() -> None:
    names = url_names()
    missing = sorted(set(names) - set(EXPECTATIONS))
    assert not missing, f"URLs without an authorization expectation: {missing}"
    assert not sorted(set(EXPECTATIONS) - set(names)), "expectations for URLs that no longer exist"


@pytest.mark.parametrize("url_name", sorted(EXPECTATIONS))
def test_url_answers_each_persona_as_expected(personas: Personas, url_name: str) -> None:
    kwargs, statuses = EXPECTATIONS[url_name]
    url = reverse(url_name, kwargs=kwargs(personas))
    got = {}
    for persona in PERSONAS:
        client = login_as(Client(), personas.get(persona))
        got[persona] = client.get(url).status_code
    assert got == dict(zip(PERSONAS, statuses, strict=True))
