"""Self-service: a member's own details, their data as JSON, resigning and erasing their account."""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from membership.models import (
    CardText,
    Local,
    Member,
    MemberStatusChange,
    SupportAssessment,
    SupportLevel,
    UnionCard,
    User,
    normalize_phone,
)
from membership.self_service import ERASED_PSEUDONYM, RESIGN_REASON
from membership.services import member_join, member_set_status
from membership.support import support_assess, support_levels_seed_defaults
from tests.base import Personas, login_as
from tests.factories import PASSWORD, make_local, make_member, make_union, make_unit
from union import crypto
from union.models import AuditEvent

pytestmark = pytest.mark.django_db
ME = "/me/"


def url(name: str) -> str:
    return reverse(f"membership:{name}")


def profile(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"pseudonym": "Night shift", "languages": ["sw", "en"], "email": "",
                               "phone": "", "ui_language": "en"}
    data.update(changes)
    return data


def join(local: Local, *, name: str, email: str, phone: str, handle: str) -> Member:
    text = CardText.objects.get_or_create(union=local.union, version=1, language="en",
                                          defaults={"title": "Union card", "body": "I join the union."})[0]
    return member_join(union=local.union, local=local, unit=None, handle=handle, password=PASSWORD,
                       pseudonym=f"{handle} p", legal_name=name, email=email, phone=phone, languages=["en"],
                       card_text=text, consents={"membership": True})


def findable(email: str = "", phone: str = "") -> bool:
    """Whether any blind index still finds this email or phone."""
    found = False
    if email:
        index = crypto.blind_index(email, purpose="email")
        found |= Member.objects.filter(email_index=index).exists() or User.objects.filter(email_index=index).exists()
    if phone:
        found |= Member.objects.filter(phone_index=crypto.blind_index(normalize_phone(phone), purpose="phone")).exists()
    return found


class TestHome:
    def test_it_shows_the_members_own_record_and_cards(self, personas: Personas) -> None:
        member = join(personas.local, name="Zawadi Real", email="zawadi@example.org", phone="+254700111222",
                      handle="zawadi")
        response = login_as(Client(), member.user).get(url("me_home"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "zawadi p" in html and "zawadi@example.org" in html
        assert reverse("membership:join_card", kwargs={"code": member.cards.get().code}) in html
        assert personas.member.member.pseudonym not in html
        assert response["Cache-Control"].startswith("max-age=0")

    def test_it_answers_404_to_an_account_without_a_member_record(self, db: None) -> None:
        user = User.objects.create_user("loner", PASSWORD, email="loner@example.org")
        client = login_as(Client(), user)
        for name in ("me_home", "me_edit", "me_export", "me_resign", "me_erase"):
            assert client.get(url(name)).status_code == 404

    def test_it_sends_visitors_to_log_in(self, db: None) -> None:
        response = Client().get(url("me_home"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("account:login"))

    @pytest.mark.parametrize("name", ["me_home", "me_export"])
    def test_it_refuses_post(self, personas: Personas, name: str) -> None:
        assert login_as(Client(), personas.member).post(url(name)).status_code == 405


def email_link(message: object) -> str:
    found = re.search(r"https?://\S+(/me/email/\S+/)", message.body)  # type: ignore[attr-defined]
    assert found, message.body  # type: ignore[attr-defined]
    return found.group(1)


def shown(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


class TestEdit:
    def test_it_updates_details_and_the_email_once_the_new_address_confirms(
        self, personas: Personas, django_capture_on_commit_callbacks: Any
    ) -> None:
        client = login_as(Client(), personas.member)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url("me_edit"), profile(email="new@example.org", phone="+254 711-000 111",
                                                           ui_language="sw", languages=["sw", "tl"]))
        assert response.status_code == 302
        member = Member.objects.get(user=personas.member)
        assert (member.pseudonym, member.language_list) == ("Night shift", ["sw", "tl"])
        assert (member.email, member.phone) == (None, "+254711000111")  # the email waits for its link
        assert member.phone_index == crypto.blind_index("+254711000111", purpose="phone")
        assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "sw"
        event = AuditEvent.objects.get(action="member.self_update")
        assert event.details == {"changed": ["languages", "phone", "pseudonym", "ui_language"]}
        (message,) = mail.outbox
        assert message.to == ["new@example.org"] and "/me/email/" in message.body
        link = email_link(message)
        assert Client().get(link).status_code == 200  # a mail scanner's GET changes nothing
        assert Member.objects.get(user=personas.member).email is None
        assert Client().post(link).status_code == 302  # no login needed: the link is the proof
        member = Member.objects.get(user=personas.member)
        assert (member.email, member.pending_email) == ("new@example.org", None)
        assert member.email_index == crypto.blind_index("new@example.org", purpose="email")
        user = User.objects.get(pk=personas.member.pk)
        assert (user.email, user.language) == ("new@example.org", "sw")
        assert User.objects.get_by_email("new@example.org") == user
        assert AuditEvent.objects.filter(action="member.email_changed").count() == 1
        assert Client().post(link).status_code == 404  # used once

    def test_a_forged_link_changes_nothing(self, personas: Personas) -> None:
        assert Client().post(reverse("membership:me_email_confirm", kwargs={"token": "x:y"})).status_code == 404

    def test_it_clears_contact_details(self, personas: Personas) -> None:
        login_as(Client(), personas.member).post(url("me_edit"), profile())
        member = Member.objects.get(user=personas.member)
        assert (member.email, member.email_index, member.phone, member.phone_index) == (None, None, None, None)

    @pytest.mark.parametrize("field", ["email", "phone"])
    def test_a_contact_of_another_member_gets_the_same_answer_and_changes_nothing(
        self, personas: Personas, field: str, django_capture_on_commit_callbacks: Any
    ) -> None:
        other = Member.objects.get(user=personas.steward)
        other.set_email("taken@example.org")
        other.set_phone("+254700999888")
        other.save()
        before = Member.objects.get(user=personas.member)
        taken = {"email": "TAKEN@example.org ", "phone": "+254 700 999 888"}[field]
        free = {"email": "free@example.org", "phone": "+254 700 123 456"}[field]
        answers = []
        for value in (taken, free):
            with django_capture_on_commit_callbacks(execute=True):
                response = login_as(Client(), personas.member).post(url("me_edit"), profile(
                    pseudonym=before.pseudonym, **{field: value}))
            answers.append((response.status_code, response["Location"], shown(response)))
            if value == taken:
                after = Member.objects.get(user=personas.member)
                assert (after.email_index, after.phone_index) == (before.email_index, before.phone_index)
        assert answers[0] == answers[1]
        if field == "email":
            # The owner of the taken address is told nothing changed; the free address gets a link.
            assert [m.to for m in mail.outbox] == [["TAKEN@example.org"], ["free@example.org"]]
            assert "already has an account" in mail.outbox[0].body and "/me/email/" not in mail.outbox[0].body
        else:
            assert AuditEvent.objects.filter(action="member.phone_clash").count() == 1
            assert Member.objects.get(user=personas.member).phone == "+254700123456"

    def test_an_email_of_an_account_in_another_union_is_never_applied(
        self, personas: Personas, django_capture_on_commit_callbacks: Any
    ) -> None:
        make_member(make_local(make_union()), email="elsewhere@example.org")
        with django_capture_on_commit_callbacks(execute=True):
            response = login_as(Client(), personas.member).post(url("me_edit"), profile(email="elsewhere@example.org"))
        assert response.status_code == 302
        assert Member.objects.get(user=personas.member).email is None
        assert "already has an account" in mail.outbox[0].body

    def test_a_pseudonym_too_close_to_a_members_is_refused(self, personas: Personas) -> None:
        other = Member.objects.get(user=personas.steward)
        response = login_as(Client(), personas.member).post(url("me_edit"), profile(
            pseudonym=other.pseudonym.upper().replace("I", "1")))
        assert response.status_code == 400 and "too close" in response.content.decode()

    def test_it_accepts_a_phone_used_in_another_union(self, personas: Personas) -> None:
        stranger = Member.objects.get(user=make_member(make_local(make_union())))
        stranger.set_phone("+63917000111")
        stranger.save()
        response = login_as(Client(), personas.member).post(url("me_edit"), profile(phone="+63917000111"))
        assert response.status_code == 302

    @pytest.mark.parametrize("bad", [{"pseudonym": "   "}, {"email": "not-an-email"}, {"phone": "12"},
                                     {"pseudonym": "Amani\u202egnp"}, {"pseudonym": "zero\u200bwidth"},
                                     {"ui_language": "xx"}, {"languages": ["zz"]}, {"pseudonym": "x" * 81}])
    def test_it_refuses_bad_input(self, personas: Personas, bad: dict[str, object]) -> None:
        before = Member.objects.get(user=personas.member)
        response = login_as(Client(), personas.member).post(url("me_edit"), profile(**bad))
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()
        assert Member.objects.get(user=personas.member).pseudonym == before.pseudonym
        assert not AuditEvent.objects.filter(action="member.self_update").exists()

    def test_it_prefills_the_form(self, personas: Personas) -> None:
        html = login_as(Client(), personas.member).get(url("me_edit")).content.decode()
        assert f'value="{personas.member.member.pseudonym}"' in html
        assert f'value="{personas.member.email}"' not in html  # the member email is empty here

    def test_it_refuses_put(self, personas: Personas) -> None:
        assert login_as(Client(), personas.member).put(url("me_edit")).status_code == 405


class TestExport:
    def test_it_downloads_all_of_the_members_data(self, personas: Personas) -> None:
        member = join(personas.local, name="Imani Legal", email="imani@example.org", phone="+254700222333",
                      handle="imani")
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        support_assess(actor=personas.organizer, member=member,
                       level=SupportLevel.objects.get(union=personas.local.union, value=2))
        Member.objects.filter(pk=member.pk).update(unit=make_unit(personas.local))
        member_set_status(actor=personas.organizer, member=member, new="rejected", reason="not in our units yet")
        response = login_as(Client(), member.user).get(url("me_export"))
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        data = json.loads(response.content)
        assert data["account"]["handle"] == "imani" and data["account"]["email"] == "imani@example.org"
        assert data["member"]["legal_name"] == "Imani Legal"
        assert data["member"]["phone"] == "+254700222333"
        assert data["cards"][0]["signed"]["signature"] == "Imani Legal"
        assert data["support_assessments"] == [
            {"level": 2, "label": "Supporter", "recorded_at": data["support_assessments"][0]["recorded_at"]}]
        assert [(c["from"], c["to"], c["reason"]) for c in data["status_changes"]] == [
            ("pending", "rejected", "not in our units yet"), ("applicant", "pending", "card signed")]
        assert personas.organizer.handle not in response.content.decode()  # who assessed is not theirs
        assert AuditEvent.objects.filter(action="member.export", target_id=str(member.code)).count() == 1


class TestResign:
    def test_it_asks_for_confirmation(self, personas: Personas) -> None:
        client = login_as(Client(), personas.member)
        assert client.get(url("me_resign")).status_code == 200
        assert client.post(url("me_resign"), {}).status_code == 400
        assert Member.objects.get(user=personas.member).status == Member.Status.ACTIVE
        assert not AuditEvent.objects.filter(action="member.status", details__to="resigned").exists()

    def test_it_resigns(self, personas: Personas) -> None:
        response = login_as(Client(), personas.member).post(url("me_resign"), {"confirm": "on"})
        assert response.status_code == 302
        assert Member.objects.get(user=personas.member).status == Member.Status.RESIGNED
        event = AuditEvent.objects.get(action="member.status")
        change = MemberStatusChange.objects.get(member__user=personas.member)
        assert event.details == {"from": "active", "to": "resigned", "change": change.pk}
        assert change.reason == RESIGN_REASON
        assert login_as(Client(), personas.member).post(url("me_resign"), {"confirm": "on"}).status_code == 400

    def test_officers_lose_their_role_when_they_resign(self, personas: Personas) -> None:
        login_as(Client(), personas.organizer).post(url("me_resign"), {"confirm": "on"})
        organizer = User.objects.get(pk=personas.organizer.pk)
        assert not organizer.has_perm("membership.view_roll", personas.local)
        # A resigned member is no longer a member: no member rights either (membership/roles.py).
        assert not organizer.has_perm("membership.view_local", personas.local)

    def test_it_refuses_a_rejected_applicant(self, personas: Personas) -> None:
        Member.objects.filter(user=personas.member).update(status=Member.Status.REJECTED)
        response = login_as(Client(), personas.member).post(url("me_resign"), {"confirm": "on"})
        assert response.status_code == 400
        assert Member.objects.get(user=personas.member).status == Member.Status.REJECTED


class TestErase:
    def test_it_needs_the_password(self, personas: Personas) -> None:
        client = login_as(Client(), personas.member)
        assert client.get(url("me_erase")).status_code == 200
        response = client.post(url("me_erase"), {"confirm": "on", "password": "wrong"})
        assert response.status_code == 400
        assert Member.objects.get(user=personas.member).erased_at is None
        assert client.post(url("me_erase"), {"password": PASSWORD}).status_code == 400
        assert User.objects.get(pk=personas.member.pk).is_active

    def test_it_erases_personal_data_and_keeps_a_pseudonymous_record(self, personas: Personas) -> None:
        member = join(personas.local, name="Baraka Erase", email="erase@example.org", phone="+254700333444",
                      handle="eraseme")
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        support_assess(actor=personas.organizer, member=member,
                       level=SupportLevel.objects.get(union=personas.local.union, value=4))
        Member.objects.filter(pk=member.pk).update(notes="talked at lunch", job_title="Moderator")
        client = login_as(Client(), member.user)
        response = client.post(url("me_erase"), {"confirm": "on", "password": PASSWORD})
        assert response.status_code == 302
        member.refresh_from_db()
        assert member.erased_at is not None and member.pseudonym == ERASED_PSEUDONYM
        assert (member.legal_name, member.email, member.email_index, member.phone, member.phone_index,
                member.notes, member.languages, member.job_title) == (None, None, None, None, None, None, "", "")
        assert member.status == Member.Status.RESIGNED
        card = UnionCard.objects.get(member=member)
        assert card.signed == {"erased": True} and card.revoked_at is not None
        assert not SupportAssessment.objects.filter(member=member).exists()
        assert member.user_id is not None
        user = User.objects.get(pk=member.user_id)
        assert not user.is_active and user.handle.startswith("erased-") and user.email is None
        assert not user.has_usable_password() and not user.role_grants.exists()
        assert not user.has_perm("membership.view_local", personas.local)
        assert client.get(url("me_home")).status_code == 302  # the session is over
        login = Client().post(reverse("account:login"), {"username": "eraseme", "password": PASSWORD})
        assert login.status_code == 400
        assert not findable(email="erase@example.org", phone="+254700333444")
        erase_events = AuditEvent.objects.filter(action="member.erase")
        assert erase_events.count() == 1 and erase_events.get().actor_id == user.pk
        # The audit log never holds handles, so the erased one survives nowhere in it.
        assert not AuditEvent.objects.exclude(actor_label__in=["user", "system"]).exists()
        assert "eraseme" not in str(list(AuditEvent.objects.values_list("details", "target_id")))

    def test_an_erased_member_can_no_longer_be_assessed(self, personas: Personas) -> None:
        support_levels_seed_defaults(actor=None, union=personas.local.union)
        login_as(Client(), personas.member).post(url("me_erase"), {"confirm": "on", "password": PASSWORD})
        target = Member.objects.get(user=personas.member)
        response = login_as(Client(), personas.organizer).post(
            reverse("membership:dash_assess", kwargs={"code": personas.local.code, "member_code": target.code}),
            {"level": SupportLevel.objects.get(union=personas.local.union, value=1).pk})
        assert response.status_code == 404


CANARIES = {
    "name": "Kanarienvogel Zyxwvut",
    "email": "canary.zyxwvut@example.org",
    "phone": "+254 799 246 813",
    "email2": "second.zyxwvut@example.org",
    "phone2": "+63 917 864 2013",
}


def _clear_text_hits(needles: list[str]) -> list[str]:
    """Scan every column of every table for the needles, as text and as raw bytes."""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("latin-1")
                    text = str(value)
                    hits += [f"{table}: {n}" for n in needles if n in text]
    return hits


def test_canaries_never_appear_in_clear_and_vanish_on_erasure(personas: Personas,
                                                             django_capture_on_commit_callbacks: Any) -> None:
    """Members joined and edited through the forms leave no name, email or phone in clear."""
    first = join(personas.local, name=CANARIES["name"], email=CANARIES["email"], phone=CANARIES["phone"],
                 handle="canaryone")
    second = join(personas.local, name=CANARIES["name"] + " II", email="temp.canary@example.org",
                  phone="+254700000777", handle="canarytwo")
    with django_capture_on_commit_callbacks(execute=True):
        response = login_as(Client(), second.user).post(url("me_edit"), profile(
            pseudonym="Bird", email=CANARIES["email2"], phone=CANARIES["phone2"]))
    assert response.status_code == 302
    assert Client().post(email_link(mail.outbox[-1])).status_code == 302
    login_as(Client(), first.user).get(url("me_export"))
    needles = [CANARIES["name"], CANARIES["email"], CANARIES["email2"], "zyxwvut",
               "799246813", "799 246 813", "9178642013", "917 864 2013"]
    out = StringIO()
    call_command("dumpdata", stdout=out)
    dump = out.getvalue()
    assert not [n for n in needles if n in dump]
    assert _clear_text_hits(needles) == []
    # They are there, encrypted, and the blind indexes find them...
    assert Member.objects.get(pk=second.pk).email == CANARIES["email2"]
    assert findable(email=CANARIES["email"], phone=CANARIES["phone"])
    assert findable(email=CANARIES["email2"], phone=CANARIES["phone2"])
    assert not findable(email="temp.canary@example.org", phone="+254700000777")  # replaced by the edit
    # ...until both members erase their accounts.
    for member in (first, second):
        response = login_as(Client(), member.user).post(url("me_erase"), {"confirm": "on", "password": PASSWORD})
        assert response.status_code == 302
    assert not findable(email=CANARIES["email"], phone=CANARIES["phone"])
    assert not findable(email=CANARIES["email2"], phone=CANARIES["phone2"])
    assert Member.objects.filter(pk__in=[first.pk, second.pk], erased_at__isnull=False).count() == 2
    # The handles are gone from the accounts (earlier audit records keep them: the log is append-only).
    assert not User.objects.filter(handle__in=["canaryone", "canarytwo"]).exists()
    assert _clear_text_hits(needles) == []
