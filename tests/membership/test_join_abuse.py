"""Join abuse: per-address and per-union limits, expiring sign-ups, pseudonym squatting, hidden characters."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from membership.cardtext import ensure_default_card_texts
from membership.forms_join import ERR_HANDLE_TAKEN, ERR_PSEUDONYM_CLOSE
from membership.models import JoinThrottle, Member, User
from membership.names import ERR_UNSAFE_CHARACTERS, pseudonym_key
from membership.services import invitation_create
from tests.base import Personas
from tests.factories import make_unit
from tests.membership.test_join import confirm_link, counts, form_data, join_url, without_csrf
from union.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def union(personas: Personas) -> Any:
    ensure_default_card_texts(personas.local.union)
    return personas.local.union


@pytest.fixture
def unit(personas: Personas) -> Any:
    return make_unit(personas.local)


def join(union: Any, unit: Any, n: int, *, address: str = "203.0.113.7", **overrides: Any) -> Any:
    fields: dict[str, Any] = {"handle": f"worker{n}", "email": f"worker{n}@example.org", "pseudonym": f"Worker {n}",
                              "phone": ""}
    data = form_data(unit, **{**fields, **overrides})
    return Client().post(join_url(union), data, REMOTE_ADDR=address)


class TestAddressLimit:
    def test_a_script_is_stopped_after_the_hourly_limit(self, union: Any, unit: Any, settings: Any) -> None:
        settings.TESSERA_JOIN_PER_ADDRESS_HOUR = 5
        answers = [join(union, unit, n).status_code for n in range(8)]
        assert answers == [302] * 5 + [429] * 3
        assert Member.objects.filter(pseudonym__startswith="Worker").count() == 5
        # Invalid tries count too, so the form cannot be used to probe handles at speed.
        assert Client().post(join_url(union), {"handle": "x"}, REMOTE_ADDR="203.0.113.7").status_code == 429

    def test_another_address_and_invitations_are_not_held_back(self, personas: Personas, union: Any, unit: Any,
                                                               settings: Any) -> None:
        settings.TESSERA_JOIN_PER_ADDRESS_HOUR = 2
        assert [join(union, unit, n).status_code for n in range(3)] == [302, 302, 429]
        assert join(union, unit, 3, address="198.51.100.9").status_code == 302
        _inv, token = invitation_create(inviter=Member.objects.get(user=personas.member))
        url = reverse("membership:join_invited", kwargs={"slug": union.slug, "token": token})
        data = form_data(unit, handle="invited", email="invited@example.org", pseudonym="Invited", phone="")
        assert Client().post(url, data, REMOTE_ADDR="203.0.113.7").status_code == 302

    def test_the_counter_holds_a_keyed_hash_not_the_address(self, union: Any, unit: Any) -> None:
        join(union, unit, 1, address="203.0.113.77")
        keys = list(JoinThrottle.objects.values_list("key", flat=True))
        assert keys and not any("203.0.113" in k for k in keys)

    def test_the_default_lets_an_office_behind_one_address_join_by_the_dozen(self, union: Any, unit: Any) -> None:
        assert all(join(union, unit, n).status_code == 302 for n in range(40))


class TestUnionCeiling:
    def test_past_the_ceiling_the_form_pauses_and_organizers_hear_once(self, personas: Personas, union: Any,
                                                                      unit: Any, settings: Any) -> None:
        settings.TESSERA_JOIN_PER_UNION_HOUR = 3
        answers = [join(union, unit, n, address=f"198.51.100.{n}").status_code for n in range(6)]
        assert answers == [302] * 3 + [429] * 3
        assert b"organizers have been told" in join(union, unit, 9, address="198.51.100.99").content
        alerts = AuditEvent.objects.filter(action="join.ceiling")
        # One record per local, one alert for the window, whoever kept trying.
        assert alerts.count() == personas.local.union.locals.count()
        first = alerts.first()
        assert first is not None and first.details["alerted"] >= 2  # the organizer and the local admin at least
        told = {m.to[0] for m in mail.outbox if "news for you" in m.subject}
        assert told  # organizers with an email got the neutral nudge
        assert Member.objects.filter(pseudonym__startswith="Worker").count() == 3

    def test_invitations_still_work_past_the_ceiling(self, personas: Personas, union: Any, unit: Any,
                                                     settings: Any) -> None:
        settings.TESSERA_JOIN_PER_UNION_HOUR = 0
        assert join(union, unit, 1).status_code == 429
        _inv, token = invitation_create(inviter=Member.objects.get(user=personas.member))
        url = reverse("membership:join_invited", kwargs={"slug": union.slug, "token": token})
        data = form_data(unit, handle="invited", email="invited@example.org", pseudonym="Invited", phone="")
        assert Client().post(url, data).status_code == 302


class TestCleanup:
    def test_expired_sign_ups_and_reservations_go_and_free_their_handles(self, union: Any, unit: Any) -> None:
        join(union, unit, 1)
        join(union, unit, 2, email="worker1@example.org")  # a duplicate: reserves "worker2" only
        confirmed = join(union, unit, 3)
        assert confirmed.status_code == 302
        Client().post(confirm_link(mail.outbox[-1]))
        before = counts()
        call_command("join_cleanup", stdout=StringIO())
        assert counts() == before  # nothing has expired yet
        later = timezone.now() + timedelta(days=3, minutes=1)
        User.objects.filter(confirm_by__isnull=False).update(confirm_by=later - timedelta(days=4))
        out = StringIO()
        call_command("join_cleanup", stdout=out)
        assert "2 expired" in out.getvalue()
        assert set(User.objects.filter(handle__startswith="worker").values_list("handle", flat=True)) == {"worker3"}
        assert not Member.objects.filter(pseudonym="Worker 1").exists()
        assert AuditEvent.objects.get(action="join.cleanup").details == {"accounts": 2, "applicants": 1}
        # The handles are free again.
        assert join(union, unit, 1, address="198.51.100.1").status_code == 302

    def test_a_fresh_link_extends_the_deadline(self, union: Any, unit: Any) -> None:
        join(union, unit, 1)
        User.objects.filter(handle="worker1").update(confirm_by=timezone.now() + timedelta(minutes=1))
        join(union, unit, 5, email="worker1@example.org")
        confirm_by = User.objects.get(handle="worker1").confirm_by
        assert confirm_by is not None and confirm_by > timezone.now() + timedelta(days=2)


class TestPseudonymSquatting:
    @pytest.mark.parametrize("lookalike", ["amani-p", "AMANI P", "Amаni-p", "4mani_p", "Ámani.p"])
    def test_a_pseudonym_confusable_with_a_members_is_refused(self, personas: Personas, union: Any, unit: Any,
                                                              lookalike: str) -> None:
        Member.objects.filter(user=personas.member).update(pseudonym="amani-p")
        Member.objects.get(user=personas.member).save()  # recompute the key
        response = join(union, unit, 1, pseudonym=lookalike)
        assert response.status_code == 400 and str(ERR_PSEUDONYM_CLOSE).encode() in response.content.replace(
            b"&#x27;", b"'")
        assert not Member.objects.filter(user__handle="worker1").exists()

    def test_an_unconfirmed_sign_up_reserves_no_pseudonym(self, union: Any, unit: Any) -> None:
        assert join(union, unit, 1, pseudonym="Wanjiru").status_code == 302  # a bot, never confirmed
        assert join(union, unit, 2, pseudonym="Wanjiru", address="198.51.100.2").status_code == 302  # the real one
        Client().post(confirm_link(mail.outbox[-1]))
        # The bot confirms second: it keeps its account, under a numbered variant.
        Client().post(confirm_link(mail.outbox[0]))
        real, bot = Member.objects.get(user__handle="worker2"), Member.objects.get(user__handle="worker1")
        assert real.pseudonym == "Wanjiru" and bot.pseudonym.startswith("Wanjiru ")
        assert pseudonym_key(bot.pseudonym) != pseudonym_key(real.pseudonym)
        assert AuditEvent.objects.filter(action="member.pseudonym_renamed", target_id=str(bot.code)).exists()


class TestHiddenCharacters:
    @pytest.mark.parametrize("field", ["pseudonym", "legal_name"])
    @pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff", "\x07", "\u2028"])
    def test_bidi_zero_width_and_control_characters_are_refused(self, union: Any, unit: Any, field: str,
                                                                char: str) -> None:
        before = counts()
        response = join(union, unit, 1, **{field: f"Ama{char}ni"})
        assert response.status_code == 400
        assert str(ERR_UNSAFE_CHARACTERS) in response.content.decode().replace("&#x27;", "'")
        assert counts() == before

    def test_the_model_refuses_them_too(self, personas: Personas) -> None:
        from django.core.exceptions import ValidationError

        member = Member.objects.get(user=personas.member)
        member.pseudonym = "gnp\u202eexe"
        with pytest.raises(ValidationError):
            member.full_clean()

    def test_accents_and_other_scripts_are_fine(self, union: Any, unit: Any) -> None:
        assert join(union, unit, 1, pseudonym="Nguyễn Thị", legal_name="Ηλέκτρα Παπαδοπούλου").status_code == 302


class TestNoHandleOracle:
    def test_an_otherwise_invalid_form_does_not_say_the_handle_is_taken(self, personas: Personas, union: Any,
                                                                       unit: Any) -> None:
        response = Client().post(join_url(union), form_data(unit, handle=personas.member.handle, password="short"))
        assert response.status_code == 400
        assert str(ERR_HANDLE_TAKEN).encode() not in response.content
        taken = Client().post(join_url(union), form_data(unit, handle=personas.member.handle, password="short"))
        free = Client().post(join_url(union), form_data(unit, handle="nobody-has-this", password="short"))
        assert without_csrf(taken.content).replace(personas.member.handle.encode(), b"H") == without_csrf(
            free.content).replace(b"nobody-has-this", b"H")
