"""Two-factor authentication: required for officers and staff, optional for members."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp

from membership.devices import Authenticator, BackupCode, BackupCodeDevice, backup_code_hash
from membership.models import User
from membership.services import role_grant
from tests.base import Personas
from tests.factories import PASSWORD, make_local, make_member, make_totp, make_user
from union.models import AuditEvent

if TYPE_CHECKING:
    from tests.base import TestResponse

LOGIN = reverse("account:login")
SETUP = reverse("account:two_factor_setup")
VERIFY = reverse("account:two_factor_verify")


def code_for(device: Authenticator, offset: int = 0) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift) + offset:06d}"[-6:]


def log_in(client: Client, handle: str) -> TestResponse:
    return client.post(LOGIN, {"username": handle, "password": PASSWORD})


@pytest.fixture
def new_steward(db: None) -> User:
    """A steward who has not enrolled an authenticator yet."""
    return make_member(make_local(), "steward", handle="newsteward")


class TestEnrollment:
    @pytest.mark.parametrize("url", ["/", "/account/", "/audit/", "/account/password/"])
    def test_an_unenrolled_officer_reaches_only_the_setup_page(self, client: Client, new_steward: User, url: str) -> None:
        assert log_in(client, "newsteward")["Location"] == "/"
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == SETUP

    def test_enrolling_verifies_the_session_and_shows_backup_codes(self, client: Client, new_steward: User) -> None:
        log_in(client, "newsteward")
        assert client.get(SETUP).status_code == 200
        qr = client.get(reverse("account:two_factor_qr"))
        assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
        device = Authenticator.objects.get(user=new_steward)
        response = client.post(SETUP, {"otp_token": code_for(device)})
        assert response.status_code == 200
        assert BackupCode.objects.filter(device__user=new_steward).count() == 10
        assert client.get("/").status_code == 200
        assert AuditEvent.objects.filter(action="user.two_factor_enrolled", actor_id=new_steward.pk).exists()

    def test_a_wrong_code_changes_nothing(self, client: Client, new_steward: User) -> None:
        log_in(client, "newsteward")
        client.get(SETUP)
        device = Authenticator.objects.get(user=new_steward)
        response = client.post(SETUP, {"otp_token": code_for(device, offset=500000)})
        assert response.status_code == 400
        assert not Authenticator.objects.filter(user=new_steward, confirmed=True).exists()
        assert client.get("/")["Location"] == SETUP

    def test_a_role_granted_during_a_session_takes_effect_at_once(self, client: Client, db: None) -> None:
        local = make_local()
        member = make_member(local, handle="soonsteward")
        log_in(client, "soonsteward")
        assert client.get("/").status_code == 200
        role_grant(actor=None, user=member, local=local, role="steward")
        assert client.get("/")["Location"] == SETUP

    def test_staff_need_it_too(self, client: Client, db: None) -> None:
        make_user("platformstaff", is_staff=True)
        log_in(client, "platformstaff")
        assert client.get("/")["Location"] == SETUP

    def test_members_do_not(self, client: Client, personas: Personas) -> None:
        log_in(client, personas.member.handle)
        assert client.get("/").status_code == 200


class TestLoginWithCode:
    def test_the_password_alone_does_not_log_in(self, client: Client, personas: Personas) -> None:
        response = log_in(client, personas.steward.handle)
        assert response["Location"] == VERIFY
        assert "_auth_user_id" not in client.session
        assert client.get("/account/").status_code == 302

    def test_the_right_code_logs_in_verified(self, client: Client, personas: Personas) -> None:
        client.post(LOGIN, {"username": personas.steward.handle, "password": PASSWORD, "next": "/account/"})
        device = Authenticator.objects.get(user=personas.steward)
        response = client.post(VERIFY, {"otp_token": code_for(device)})
        assert response.status_code == 302 and response["Location"] == "/account/"
        assert client.get("/audit/").status_code == 404  # logged in and verified; not a local admin
        assert client.get("/account/").status_code == 200

    def test_a_wrong_code_does_not_log_in(self, client: Client, personas: Personas) -> None:
        log_in(client, personas.steward.handle)
        response = client.post(VERIFY, {"otp_token": "000000x"})
        assert response.status_code == 400 and "_auth_user_id" not in client.session

    def test_a_code_is_refused_after_the_pending_login_expires(self, client: Client, personas: Personas) -> None:
        log_in(client, personas.steward.handle)
        session = client.session
        session["tessera_pending_login"]["at"] = time.time() - 301
        session.save()
        device = Authenticator.objects.get(user=personas.steward)
        response = client.post(VERIFY, {"otp_token": code_for(device)})
        assert response["Location"] == LOGIN and "_auth_user_id" not in client.session

    def test_a_backup_code_works_once(self, client: Client, personas: Personas) -> None:
        device = BackupCodeDevice.objects.create(user=personas.steward, name="backup", confirmed=True)
        device.codes.create(code_hash=backup_code_hash("backup123"))
        log_in(client, personas.steward.handle)
        assert client.post(VERIFY, {"otp_token": "backup 123"})["Location"] == "/"
        other = Client()
        log_in(other, personas.steward.handle)
        assert other.post(VERIFY, {"otp_token": "backup123"}).status_code == 400

    def test_a_member_who_enrolled_is_asked_for_a_code(self, client: Client, personas: Personas) -> None:
        make_totp(personas.member)
        assert log_in(client, personas.member.handle)["Location"] == VERIFY

    def test_verify_without_a_pending_login_goes_back_to_login(self, client: Client, db: None) -> None:
        assert client.get(VERIFY)["Location"] == LOGIN
