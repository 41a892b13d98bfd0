"""Logging in by handle or email, logging out, sessions that end, lockout."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.hashers import identify_hasher
from django.core import mail
from django.db.models import F
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from membership.models import User
from membership.services import user_deactivate
from tests.base import Personas
from tests.factories import PASSWORD, make_user

if TYPE_CHECKING:
    from tests.base import TestResponse

LOGIN = reverse("account:login")


@pytest.fixture
def amani(db: None) -> User:
    return make_user("amani", email="Amani@Example.org")


def log_in(client: Client, username: str, password: str = PASSWORD, **extra: str) -> TestResponse:
    return client.post(LOGIN, {"username": username, "password": password, **extra})


class TestLogin:
    @pytest.mark.parametrize("username", ["amani", "AMANI ", "amani@example.org", "Amani@EXAMPLE.org"])
    def test_it_accepts_a_handle_or_an_email(self, client: Client, amani: User, username: str) -> None:
        response = log_in(client, username)
        assert response.status_code == 302 and response["Location"] == "/"
        assert client.session["_auth_user_id"] == str(amani.pk)

    def test_it_rotates_the_session_key(self, client: Client, amani: User) -> None:
        client.get(LOGIN)
        client.cookies["sessionid"] = "attacker-fixed-session"
        log_in(client, "amani")
        assert client.cookies["sessionid"].value != "attacker-fixed-session"

    @pytest.mark.parametrize("username,password", [("amani", "wrong password"), ("nobody", PASSWORD), ("", "")])
    def test_it_refuses_bad_credentials(self, client: Client, amani: User, username: str, password: str) -> None:
        response = log_in(client, username, password)
        assert response.status_code == 400
        assert "_auth_user_id" not in client.session

    def test_it_refuses_a_deactivated_account(self, client: Client, amani: User) -> None:
        User.objects.filter(pk=amani.pk).update(is_active=False)
        assert log_in(client, "amani").status_code == 400

    def test_it_only_redirects_to_this_site(self, client: Client, amani: User) -> None:
        response = log_in(client, "amani", next="https://evil.example/")
        assert response["Location"] == "/"
        assert log_in(Client(), "amani", next="/account/")["Location"] == "/account/"

    def test_it_hashes_passwords_with_argon2(self, settings: Settings, db: None) -> None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
        user = make_user("hashed")
        assert identify_hasher(user.password).algorithm == "argon2"


class TestLogout:
    def test_it_needs_post(self, client: Client, amani: User) -> None:
        client.force_login(amani)
        assert client.get(reverse("account:logout")).status_code == 405
        client.post(reverse("account:logout"))
        assert "_auth_user_id" not in client.session

    def test_logout_everywhere_ends_every_session(self, amani: User) -> None:
        phone, laptop = Client(), Client()
        log_in(phone, "amani")
        log_in(laptop, "amani")
        assert laptop.get(reverse("account:home")).status_code == 200
        phone.post(reverse("account:logout_everywhere"))
        assert laptop.get(reverse("account:home")).status_code == 302
        assert phone.get(reverse("account:home")).status_code == 302
        assert log_in(Client(), "amani").status_code == 302  # the password still works

    def test_deactivation_ends_every_session(self, client: Client, amani: User) -> None:
        log_in(client, "amani")
        user_deactivate(actor=None, user=amani, reason="left the union")
        response = client.get(reverse("account:home"))
        assert response.status_code == 302 and LOGIN in response["Location"]


class TestPasswords:
    def test_change_keeps_this_session(self, client: Client, amani: User) -> None:
        log_in(client, "amani")
        response = client.post(reverse("account:password_change"), {
            "old_password": PASSWORD, "new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase",
        })
        assert response.status_code == 302
        assert client.get(reverse("account:home")).status_code == 200
        assert log_in(Client(), "amani", "a brand new passphrase").status_code == 302

    def test_change_applies_the_validators(self, client: Client, amani: User) -> None:
        log_in(client, "amani")
        response = client.post(reverse("account:password_change"), {
            "old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678",
        })
        assert response.status_code == 400
        assert log_in(Client(), "amani").status_code == 302  # unchanged

    def test_reset_finds_the_account_by_email_and_sends_only_a_link(self, client: Client, amani: User) -> None:
        response = client.post(reverse("account:password_reset"), {"email": "AMANI@example.org"})
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["Amani@Example.org"]
        link = next(line for line in message.body.splitlines() if "/account/password/reset/" in line)
        response = client.get(link.strip().replace("http://testserver", ""), follow=True)
        form_url = response.redirect_chain[-1][0]
        response = client.post(form_url, {"new_password1": "reset passphrase ok", "new_password2": "reset passphrase ok"})
        assert response.status_code == 302
        assert log_in(Client(), "amani", "reset passphrase ok").status_code == 302

    def test_reset_for_an_unknown_email_looks_the_same(self, client: Client, amani: User) -> None:
        response = client.post(reverse("account:password_reset"), {"email": "stranger@example.org"})
        assert response.status_code == 302 and response["Location"] == reverse("account:password_reset_done")
        assert mail.outbox == []


class TestLockout:
    def test_it_locks_the_account_from_that_address_after_five_failures(self, client: Client, amani: User) -> None:
        for _ in range(5):
            log_in(client, "amani@example.org", "wrong password")
        response = log_in(client, "amani", PASSWORD)
        assert response.status_code == 429
        assert b"15 minutes" in response.content
        # Another address is not locked out: lockout is keyed on account and address together.
        assert log_in(Client(REMOTE_ADDR="10.9.8.7"), "amani").status_code == 302

    def test_the_lockout_table_holds_no_identity(self, client: Client, amani: User) -> None:
        log_in(client, "amani@example.org", "wrong password", )
        attempt = AccessAttempt.objects.get()
        stored = " ".join(str(v) for v in attempt.__dict__.values())
        assert "amani" not in stored.lower() and "127.0.0.1" not in stored
        assert attempt.ip_address is not None and attempt.ip_address.startswith("fd")

    def test_the_lockout_table_keeps_neither_the_browser_nor_the_page_asked_for(self, amani: User) -> None:
        user_agent = "Mozilla/5.0 (Linux; Android 14; SM-A546E Build/UP1A.231005.007; canary-ua-7731) Mobile"
        target = "/roll/3f0c9a52-canary-next/"
        client = Client(HTTP_USER_AGENT=user_agent, HTTP_ACCEPT="text/html,canary-accept")
        for _ in range(2):
            client.post(f"{reverse('account:login')}?next={target}",
                        {"username": "amani", "password": "wrong password", "next": target})
        rows = [str(v) for a in AccessAttempt.objects.all() for v in a.__dict__.values()]
        rows += [str(v) for a in AccessFailureLog.objects.all() for v in a.__dict__.values()]
        stored = " ".join(rows)
        assert AccessAttempt.objects.get().failures_since_start == 2
        assert "canary" not in stored and "Android" not in stored and "3f0c9a52" not in stored

    def test_a_locked_pair_unlocks_after_the_cool_off(self, client: Client, amani: User, settings: Settings) -> None:
        for _ in range(5):
            log_in(client, "amani", "wrong password")
        assert log_in(client, "amani").status_code == 429
        AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
        assert log_in(client, "amani").status_code == 302


@pytest.mark.parametrize("url_name", ["account:home", "account:password_change", "account:two_factor_setup"])
def test_account_pages_need_login(client: Client, personas: Personas, url_name: str) -> None:
    response = client.get(reverse(url_name))
    assert response.status_code == 302 and LOGIN in response["Location"]


def test_the_deactivate_command_ends_sessions_and_is_audited(client: Client, amani: User) -> None:
    from django.core.management import CommandError, call_command

    from union.models import AuditEvent

    log_in(client, "amani")
    call_command("deactivate_user", "amani@example.org", reason="requested", stdout=None)
    assert client.get(reverse("account:home")).status_code == 302
    # The typed reason is kept encrypted on the account, not in the append-only audit log.
    event = AuditEvent.objects.get(action="user.deactivate")
    assert event.details == {} and event.target_id == str(amani.code)
    amani.refresh_from_db()
    assert amani.deactivation_reason == "requested"
    with pytest.raises(CommandError):
        call_command("deactivate_user", "nobody", reason="x")


def test_switching_language_is_remembered_on_the_account(client: Client, amani: User) -> None:
    log_in(client, "amani")
    response = client.post(reverse("set_language"), {"language": "sw", "next": "/"})
    assert response.status_code == 302 and User.objects.get(pk=amani.pk).language == "sw"
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert User.objects.get(pk=amani.pk).language == "sw"
    anonymous = Client().post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert anonymous.status_code == 302 and anonymous.cookies["django_language"].value == "fr"
