"""A refused request is logged as one line: no traceback, no path with codes, no user."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.base import Personas, login_as
from tests.grievances.factories import make_case


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("django.request", "django.security"))]


def test_a_permission_denied_is_one_line_without_traceback_or_personal_data(
        personas: Personas, caplog: pytest.LogCaptureFixture) -> None:
    case = make_case(personas)
    client = login_as(Client(), personas.organizer)  # sees the case, may not work it: 403
    with caplog.at_level(logging.WARNING):
        response = client.get(reverse("grievances:work_actions", kwargs={"code": case.code}))
    assert response.status_code == 403
    records = _records(caplog)
    assert len(records) == 1
    record = records[0]
    assert record.exc_info is None and record.exc_text is None
    line = logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)
    assert "\n" not in line and "Traceback" not in line
    assert line.endswith("403 Forbidden: GET grievances/<uuid:code>/work/")
    for secret in (str(case.code), personas.organizer.handle, personas.organizer.member.pseudonym):
        assert secret not in line


def test_a_404_is_one_line_too(personas: Personas, caplog: pytest.LogCaptureFixture) -> None:
    case = make_case(personas)
    with caplog.at_level(logging.WARNING):
        response = login_as(Client(), personas.outsider).get(reverse("grievances:detail", kwargs={"code": case.code}))
    assert response.status_code == 404
    records = _records(caplog)
    assert len(records) == 1 and records[0].exc_info is None
    assert str(case.code) not in records[0].getMessage()


def _console_handlers(name: str) -> list[logging.StreamHandler[Any]]:
    """The plain stream handlers a record logged on `name` reaches (pytest's capture handlers excluded)."""
    handlers: list[logging.StreamHandler[Any]] = []
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        handlers += [h for h in logger.handlers if type(h) is logging.StreamHandler]
        logger = logger.parent if logger.propagate else None
    return handlers


def test_in_development_a_403_is_printed_once(personas: Personas, settings: Any) -> None:
    # `make run` has DEBUG on, which enables the console handler of Django's own default logging
    # on the `django` logger; with the root handler as well, every refusal was printed twice.
    import io

    settings.DEBUG = True
    case = make_case(personas)
    client = login_as(Client(), personas.organizer)
    handlers = _console_handlers("django.request")
    out = io.StringIO()
    previous = [h.setStream(out) for h in handlers]
    try:
        response = client.get(reverse("grievances:work_actions", kwargs={"code": case.code}))
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)
    assert response.status_code == 403
    assert out.getvalue().splitlines() == ["403 Forbidden: GET grievances/<uuid:code>/work/"]
