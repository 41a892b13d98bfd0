from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from membership.models import BargainingUnit, Local, Member, RoleGrant, User
from membership.selectors import needs_two_factor


@pytest.mark.django_db
class TestSeedDemo:
    def run(self) -> str:
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        return out.getvalue()

    def test_it_creates_one_user_per_persona_and_is_idempotent(self) -> None:
        first = self.run()
        counts = (User.objects.count(), Member.objects.count(), Local.objects.count(), BargainingUnit.objects.count())
        self.run()
        assert counts == (6, 6, 2, 3)
        assert (User.objects.count(), Member.objects.count(), Local.objects.count(),
                BargainingUnit.objects.count()) == counts
        roles = dict(RoleGrant.objects.values_list("user__handle", "role"))
        assert roles == {"amani": "member", "wanjiru": "steward", "baraka": "organizer", "neema": "representative",
                         "otieno": "local_admin", "maria": "member"}
        assert RoleGrant.objects.get(user__handle="maria").local.slug == "manila"
        from grievances.models import Grievance

        assert Grievance.objects.count() == 4  # seeded once, not twice
        assert set(Grievance.objects.values_list("status", flat=True)) == {"open", "closed"}
        # Officers' TOTP secrets are printed so a person can enroll an authenticator.
        assert first.count("otpauth://totp/") == 4
        assert all(needs_two_factor(User.objects.get(handle=h)) for h in ("wanjiru", "baraka", "neema", "otieno"))

    def test_the_demo_member_can_log_in(self) -> None:
        self.run()
        client = Client()
        response = client.post("/account/login/", {"username": "amani", "password": "tessera-demo-2026"})
        assert response.status_code == 302 and client.get("/").status_code == 200

    def test_it_refuses_in_production(self, settings: object) -> None:
        settings.PRODUCTION = True  # type: ignore[attr-defined]
        with pytest.raises(CommandError, match="production"):
            self.run()
        assert not User.objects.exists()

    def test_demo_totp_prints_a_code_and_refuses_unknown_users(self) -> None:
        self.run()
        out = io.StringIO()
        call_command("demo_totp", "wanjiru", stdout=out)
        assert out.getvalue()[:6].isdigit()
        with pytest.raises(CommandError):
            call_command("demo_totp", "amani")
