"""The rooms' key pages (messaging/views.py): set up, restore, devices. Shells only, but each is
private: logged-out visitors go to the login page, an inactive account gets 404 (permissions.py's
access_room_list, as the API), only GET is answered, nothing is cached, and every script is a
same-origin module (no inline script; the page's words come from the template, translated)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from messaging.selectors import ur1_user_id
from tests.base import Personas, login_as

pytestmark = pytest.mark.django_db
PAGES = ["messaging:keys_setup", "messaging:keys_restore", "messaging:devices"]


@pytest.mark.parametrize("name", PAGES)
def test_logged_out_visitors_are_sent_to_log_in(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account:login"))


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("who", ["member", "outsider", "organizer"])
def test_any_active_account_gets_its_own_page(personas: Personas, name: str, who: str) -> None:
    user = personas.get(who)
    response = login_as(Client(), user).get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    # The member's own protocol id and a CSRF token for api.js; never anyone else's id.
    assert f'<meta name="ure2e-user" content="{ur1_user_id(user)}">' in html
    assert re.search(r'<meta name="csrf-token" content="[A-Za-z0-9]{32,}">', html)
    others = [p for p in ("member", "outsider", "organizer") if p != who]
    assert all(ur1_user_id(personas.get(p)) not in html for p in others)
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    # Scripts: same-origin modules only, never inline.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('type="module"' in attrs and 'src="/static/' in attrs and not body.strip()
                           for attrs, body in scripts)
    # The lock and panic-wipe controls are on every key page, with a logout form for after.
    assert 'data-lock="lock"' in html and 'data-lock="wipe"' in html
    assert f'action="{reverse("account:logout")}"' in html


@pytest.mark.parametrize("name", PAGES)
def test_an_inactive_account_gets_404(personas: Personas, name: str) -> None:
    client = login_as(Client(), personas.member)
    personas.member.is_active = False
    personas.member.save(update_fields=["is_active"])
    assert client.get(reverse(name)).status_code in (302, 404)  # the session ends, or the page is missing


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_is_answered(personas: Personas, name: str, method: str) -> None:
    client = login_as(Client(enforce_csrf_checks=False), personas.member)
    response = getattr(client, method)(reverse(name), data={"recovery_key": "0" * 32})
    assert response.status_code == 405


def test_query_strings_change_nothing(personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    response = client.get(reverse("messaging:keys_restore") + "?recovery_key=%3Cscript%3E&user=x")
    assert response.status_code == 200
    assert b"<script>" not in response.content  # echoed, if at all, escaped (the language form's `next`)
    assert f'content="{ur1_user_id(personas.member)}"'.encode() in response.content


def test_the_words_for_the_browser_come_from_the_template(personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    client.cookies["django_language"] = "fr"
    with translation.override("fr"):
        html = client.get(reverse("messaging:keys_setup"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in html
    # Every sentence the modules show comes from data-* attributes of the page.
    for attribute in ("data-error-wrong-key", "data-error-offline", "data-leave-warning", "data-locked"):
        assert re.search(rf'{attribute}="[^"]+"', html), attribute


def test_the_account_page_leads_to_the_devices(personas: Personas) -> None:
    html = login_as(Client(), personas.member).get(reverse("account:home")).content.decode()
    assert f'href="{reverse("messaging:devices")}"' in html
