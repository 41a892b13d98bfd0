"""Language codes over 100 characters: every way in is validated (PostgreSQL refused them with a 500).

The one that failed was the CSV import (eight long codes overflowed `Member.languages`, 100
characters; tests/membership/test_roll_import_errors.py). The others are checked here so they stay
validated: the language switch, the member's own page and the Accept-Language header at joining.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from membership.cardtext import ensure_default_card_texts
from membership.models import Member, User
from tests.base import Personas, login_as
from tests.factories import make_unit
from tests.membership.test_join import form_data, join_url

pytestmark = pytest.mark.django_db
LONG = "x" * 150


def test_the_language_switch_ignores_an_unknown_code(personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    assert client.post(reverse("set_language"), {"language": LONG}).status_code == 302
    assert User.objects.get(pk=personas.member.pk).language == "en"


def test_the_members_page_refuses_unknown_codes(personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    response = client.post(reverse("membership:me_edit"), {"pseudonym": "Night", "ui_language": LONG,
                                                           "languages": [LONG]})
    assert response.status_code == 400
    assert User.objects.get(pk=personas.member.pk).language == "en"


def test_a_long_accept_language_header_joins_in_a_supported_language(personas: Personas, settings: Any) -> None:
    ensure_default_card_texts(personas.local.union)
    unit = make_unit(personas.local)
    response = Client().post(join_url(personas.local.union), form_data(unit, languages=[LONG]),
                             HTTP_ACCEPT_LANGUAGE=f"sw-{LONG},{LONG};q=0.9")
    assert response.status_code == 400  # the code is not one of the form's choices
    response = Client().post(join_url(personas.local.union), form_data(unit), HTTP_ACCEPT_LANGUAGE=f"sw-{LONG}")
    assert response.status_code == 302
    user = Member.objects.get(pseudonym="Kito").user
    assert user is not None and user.language in dict(settings.LANGUAGES)
