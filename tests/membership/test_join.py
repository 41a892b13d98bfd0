"""Joining: the public form, invitations, email confirmation, duplicates, and the member's card."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from membership.cardtext import DEFAULT_CARD_TEXTS, ensure_default_card_texts
from membership.forms_join import ERR_HANDLE_TAKEN, NOT_LISTED
from membership.models import CardText, Invitation, Member, UnionCard, User
from membership.services import invitation_create, join_confirm_token
from tests.base import Personas, login_as
from tests.factories import PASSWORD, make_unit
from tests.services import need
from union.models import AuditEvent

# Emails go out after the transaction commits, as in production: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

CANARY_NAME = "Zyxwanaria Qoplentine"
CANARY_EMAIL = "canary-join-91b7@example.org"
CANARY_PHONE = "+254 711 987 654"
CANARY_PHONE_DIGITS = "254711987654"


@pytest.fixture
def union(personas: Personas) -> Any:
    ensure_default_card_texts(personas.local.union)
    return personas.local.union


@pytest.fixture
def unit(personas: Personas) -> Any:
    return make_unit(personas.local)


def form_data(unit: Any, /, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "unit": str(unit.code), "pseudonym": "Kito", "email": CANARY_EMAIL, "phone": CANARY_PHONE,
        "languages": ["sw", "en"], "handle": "kito", "password": PASSWORD, "legal_name": CANARY_NAME,
        "consent_join": "on", "consent_represent": "on", "consent_privacy": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def join_url(union: Any) -> str:
    return reverse("membership:join", kwargs={"slug": union.slug})


def confirm_link(message: Any) -> str:
    found = re.search(r"https?://\S+(/join/confirm/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def can_log_in(handle: str) -> bool:
    response = Client().post(reverse("account:login"), {"username": handle, "password": PASSWORD})
    return response.status_code == 302


def without_csrf(content: bytes) -> bytes:
    """Each visitor gets their own CSRF token (in the language switch); the rest must match."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def counts() -> tuple[int, ...]:
    return (User.objects.count(), Member.objects.count(), UnionCard.objects.count(),
            Invitation.objects.filter(used_at__isnull=False).count())


class TestJoinPage:
    def test_it_shows_the_form_and_card_text_in_the_visitors_language(self, union: Any, unit: Any) -> None:
        response = Client().get(join_url(union), HTTP_ACCEPT_LANGUAGE="fr")
        assert response.status_code == 200
        body = response.content.decode()
        assert DEFAULT_CARD_TEXTS["fr"][0].replace("'", "&#x27;") in body
        assert str(unit.code) in body and 'value="other"' in body
        assert "<optgroup" in body  # units grouped by local
        assert response["Cache-Control"].startswith("max-age=0")

    def test_it_says_joining_is_closed_without_card_text(self, personas: Personas) -> None:
        response = Client().get(join_url(personas.local.union))
        assert response.status_code == 200
        assert b"<form method=\"post\" class=\"join" not in response.content

    def test_it_tells_a_member_they_are_already_on_the_roll(self, personas: Personas, union: Any) -> None:
        response = login_as(Client(), personas.member).get(join_url(union))
        assert b"already on the roll" in response.content

    def test_it_404s_for_an_unknown_union(self, db: None) -> None:
        assert Client().get(reverse("membership:join", kwargs={"slug": "nope"})).status_code == 404

    def test_it_refuses_other_methods(self, union: Any) -> None:
        assert Client().put(join_url(union)).status_code == 405
        assert Client().post(reverse("membership:join_sent", kwargs={"slug": union.slug})).status_code == 405

    def test_it_creates_an_inactive_applicant_with_an_encrypted_card(self, union: Any, unit: Any) -> None:
        response = Client().post(join_url(union), form_data(unit), HTTP_ACCEPT_LANGUAGE="sw")
        assert response.status_code == 302
        assert response["Location"] == reverse("membership:join_sent", kwargs={"slug": union.slug})
        member = Member.objects.get(pseudonym="Kito")
        assert member.status == Member.Status.APPLICANT and member.unit == unit and member.local == unit.local
        assert member.user is not None
        assert member.user.is_active is False and member.user.language == "sw"
        assert member.legal_name == CANARY_NAME and member.email == CANARY_EMAIL
        assert member.phone == "+" + CANARY_PHONE_DIGITS and member.language_list == ["sw", "en"]
        card = member.cards.get()
        assert card.signed["signature"] == CANARY_NAME and card.signed["language"] == "sw"
        assert card.signed["body"] == CardText.objects.get(union=union, language="sw").body
        assert len(card.signed["consents"]) == 3
        assert AuditEvent.objects.filter(action="member.join", target_id=str(member.code)).exists()
        assert AuditEvent.objects.filter(action="card.sign").exists()
        assert len(mail.outbox) == 1 and mail.outbox[0].to == [CANARY_EMAIL]
        assert "/join/confirm/" in mail.outbox[0].body
        assert CANARY_NAME not in mail.outbox[0].body and "union" not in mail.outbox[0].body.lower()

    def test_an_unconfirmed_account_cannot_log_in(self, union: Any, unit: Any) -> None:
        Client().post(join_url(union), form_data(unit))
        assert can_log_in("kito") is False

    def test_not_listed_needs_a_local(self, union: Any, unit: Any) -> None:
        before = counts()
        response = Client().post(join_url(union), form_data(unit, unit=NOT_LISTED))
        assert response.status_code == 400 and b"not listed" in response.content
        assert counts() == before and mail.outbox == []

    def test_not_listed_with_a_local_joins_without_a_unit(self, personas: Personas, union: Any, unit: Any) -> None:
        data = form_data(unit, unit=NOT_LISTED, local=str(personas.other_local.code))
        assert Client().post(join_url(union), data).status_code == 302
        member = Member.objects.get(pseudonym="Kito")
        assert member.unit is None and member.local == personas.other_local

    @pytest.mark.parametrize("overrides", [
        {"consent_represent": None}, {"legal_name": ""}, {"email": "not-an-email"}, {"unit": "bogus"},
        {"password": "short"}, {"handle": "Bad Handle!"}, {"phone": "12"}, {"pseudonym": ""},
    ])
    def test_bad_input_changes_nothing(self, union: Any, unit: Any, overrides: dict[str, Any]) -> None:
        before = counts()
        response = Client().post(join_url(union), form_data(unit, **overrides))
        assert response.status_code == 400
        assert b'role="alert"' in response.content
        assert counts() == before and mail.outbox == []
        assert CANARY_EMAIL.encode() not in response.content or overrides.get("email") is None
        assert PASSWORD.encode() not in response.content  # the password is never echoed back

    def test_a_taken_handle_is_a_form_error(self, personas: Personas, union: Any, unit: Any) -> None:
        response = Client().post(join_url(union), form_data(unit, handle=personas.member.handle))
        assert response.status_code == 400 and str(ERR_HANDLE_TAKEN).encode() in response.content


class TestDuplicates:
    def test_new_and_duplicate_submissions_look_identical(self, union: Any, unit: Any) -> None:
        first = Client().post(join_url(union), form_data(unit))
        before = counts()
        second = Client().post(join_url(union), form_data(unit, handle="kito2", phone="", pseudonym="Other"))
        assert (first.status_code, first["Location"], first.content) == (
            second.status_code, second["Location"], second.content)
        pages = [Client().get(r["Location"]) for r in (first, second)]
        assert without_csrf(pages[0].content) == without_csrf(pages[1].content)
        assert pages[0].status_code == pages[1].status_code == 200
        # Nothing about the person was created: only the handle was reserved, on a dead account.
        users, members, cards, used = counts()
        assert (members, cards) == before[1:3] and users == before[0] + 1
        decoy = User.objects.get(handle="kito2")
        assert not decoy.is_active and not decoy.has_usable_password() and decoy.email is None
        assert AuditEvent.objects.filter(action="join.duplicate").count() == 1

    def test_the_owner_of_the_address_gets_a_neutral_email(self, personas: Personas, union: Any, unit: Any) -> None:
        Member.objects.filter(user=personas.member).update()
        member = Member.objects.get(user=personas.member)
        member.set_email(CANARY_EMAIL)
        member.save()
        response = Client().post(join_url(union), form_data(unit, email=CANARY_EMAIL.upper()))
        assert response.status_code == 302
        assert len(mail.outbox) == 1 and mail.outbox[0].to == [CANARY_EMAIL.upper()]
        body = mail.outbox[0].body
        assert "already has an account" in body and "/account/login/" in body
        assert "/join/confirm/" not in body and CANARY_NAME not in body and "union" not in body.lower()

    def test_an_unconfirmed_applicant_signing_again_gets_a_fresh_link(self, union: Any, unit: Any) -> None:
        Client().post(join_url(union), form_data(unit))
        Client().post(join_url(union), form_data(unit, handle="kito2"))
        assert len(mail.outbox) == 2 and "/join/confirm/" in mail.outbox[1].body
        assert Member.objects.filter(pseudonym="Kito").count() == 1

    def test_an_address_with_an_account_elsewhere_is_a_duplicate(self, personas: Personas, union: Any,
                                                                 unit: Any) -> None:
        User.objects.filter(pk=personas.outsider.pk).update()
        personas.outsider.set_email(CANARY_EMAIL)
        personas.outsider.save()
        before = counts()
        assert Client().post(join_url(union), form_data(unit)).status_code == 302
        assert counts()[1:3] == before[1:3]
        assert "already has an account" in mail.outbox[0].body

    def test_a_known_phone_is_dropped_not_refused(self, personas: Personas, union: Any, unit: Any) -> None:
        member = Member.objects.get(user=personas.member)
        member.set_phone(CANARY_PHONE)
        member.save()
        assert Client().post(join_url(union), form_data(unit)).status_code == 302
        new = Member.objects.get(pseudonym="Kito")
        assert new.phone is None and new.status == Member.Status.APPLICANT
        assert AuditEvent.objects.filter(action="join.phone_clash", target_id=str(new.code)).exists()

    def test_a_duplicate_uses_up_the_invitation_like_a_new_signup(self, personas: Personas, union: Any,
                                                                  unit: Any) -> None:
        inviter = Member.objects.get(user=personas.member)
        member = Member.objects.get(user=personas.steward)
        member.set_email(CANARY_EMAIL)
        member.save()
        _inv, token = invitation_create(inviter=inviter)
        url = reverse("membership:join_invited", kwargs={"slug": union.slug, "token": token})
        assert Client().post(url, form_data(unit)).status_code == 302
        assert Client().get(url).status_code == 404  # as it would be after a real sign-up
        assert not Member.objects.filter(pseudonym="Kito").exists()


class TestConfirmation:
    def test_the_link_activates_the_account_and_makes_the_application_pending(self, union: Any, unit: Any) -> None:
        Client().post(join_url(union), form_data(unit))
        link = confirm_link(mail.outbox[0])
        client = Client()
        page = client.get(link)
        assert page.status_code == 200 and b"<form method=\"post\"" in page.content
        member = Member.objects.get(pseudonym="Kito")
        assert member.status == Member.Status.APPLICANT  # a GET (a mail scanner) confirms nothing
        response = client.post(link)
        assert response.status_code == 302 and response["Location"] == reverse("account:login")
        member.refresh_from_db()
        assert member.user is not None
        assert member.status == Member.Status.PENDING and member.user.is_active
        assert AuditEvent.objects.filter(action="member.email_confirmed").exists()
        assert can_log_in("kito")
        assert client.post(link).status_code == 404  # single use
        assert client.get(link).status_code == 404

    def test_a_forged_or_expired_link_does_nothing(self, union: Any, unit: Any, settings: Any) -> None:
        Client().post(join_url(union), form_data(unit))
        member = Member.objects.get(pseudonym="Kito")
        token = join_confirm_token(member)
        bad = reverse("membership:join_confirm", kwargs={"token": token[:-2] + "xx"})
        assert Client().post(bad).status_code == 404
        from django.core import signing

        other_salt = signing.dumps({"m": str(member.code)}, salt="something.else", compress=True)
        assert Client().post(reverse("membership:join_confirm", kwargs={"token": other_salt})).status_code == 404
        from unittest import mock

        with mock.patch("django.core.signing.time.time", return_value=timezone.now().timestamp() + 4 * 86400):
            assert Client().post(reverse("membership:join_confirm", kwargs={"token": token})).status_code == 404
        member.refresh_from_db()
        assert member.user is not None
        assert member.status == Member.Status.APPLICANT and not member.user.is_active

    def test_it_refuses_other_methods(self, db: None) -> None:
        assert Client().put(reverse("membership:join_confirm", kwargs={"token": "x"})).status_code == 405


class TestInvitations:
    def invite_url(self, union: Any) -> str:
        return reverse("membership:join_invite", kwargs={"slug": union.slug})

    def test_a_member_creates_an_invitation_and_sees_the_link_once(self, personas: Personas, union: Any) -> None:
        client = login_as(Client(), personas.member)
        assert b"/i/" not in client.get(self.invite_url(union)).content
        response = client.post(self.invite_url(union))
        assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
        link = re.search(rb"/j/[\w-]+/i/([\w-]+)/", response.content)
        assert link is not None
        token = link.group(1).decode()
        invitation = Invitation.objects.get()
        assert invitation.inviter is not None and invitation.inviter.user == personas.member and token not in invitation.token_hash
        assert abs(invitation.expires_at - invitation.created_at - timedelta(days=14)) < timedelta(seconds=5)
        assert b"data:image/svg+xml;base64," in response.content
        assert AuditEvent.objects.filter(action="invitation.create").exists()
        assert token.encode() not in client.get(self.invite_url(union)).content

    def test_the_invitee_joins_with_the_inviter_recorded(self, personas: Personas, union: Any, unit: Any) -> None:
        inviter = Member.objects.get(user=personas.member)
        _inv, token = invitation_create(inviter=inviter)
        url = reverse("membership:join_invited", kwargs={"slug": union.slug, "token": token})
        page = Client().get(url)
        assert page.status_code == 200 and b"A coworker invited you" in page.content
        assert inviter.pseudonym.encode() not in page.content  # the link must not out the inviter
        assert b'name="local"' not in page.content  # the invitation fixes the local
        assert Client().post(url, form_data(unit)).status_code == 302
        member = Member.objects.get(pseudonym="Kito")
        assert member.invited_by == inviter and member.invitation.used_at is not None
        assert Client().get(url).status_code == 404
        before = counts()
        assert Client().post(url, form_data(unit, handle="kito3", email="x@example.org")).status_code == 404
        assert counts() == before

    def test_an_expired_invitation_is_refused(self, personas: Personas, union: Any, unit: Any) -> None:
        invitation, token = invitation_create(inviter=Member.objects.get(user=personas.member))
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        url = reverse("membership:join_invited", kwargs={"slug": union.slug, "token": token})
        response = Client().get(url)
        assert response.status_code == 404 and b"cannot be used" in response.content
        before = counts()
        assert Client().post(url, form_data(unit)).status_code == 404
        assert counts() == before

    def test_a_token_only_works_in_its_union(self, personas: Personas, union: Any) -> None:
        from tests.factories import make_union

        other = make_union()
        _inv, token = invitation_create(inviter=Member.objects.get(user=personas.member))
        url = reverse("membership:join_invited", kwargs={"slug": other.slug, "token": token})
        assert Client().get(url).status_code == 404

    def test_only_active_members_of_the_union_invite(self, personas: Personas, union: Any) -> None:
        from tests.factories import make_local, make_member, make_union

        stranger = make_member(make_local(make_union()))
        assert login_as(Client(), stranger).post(self.invite_url(union)).status_code == 404
        Member.objects.filter(user=personas.member).update(status=Member.Status.SUSPENDED)
        assert login_as(Client(), personas.member).post(self.invite_url(union)).status_code == 404
        assert not Invitation.objects.exists()
        assert Client().post(self.invite_url(union)).status_code == 302
        assert login_as(Client(), personas.steward).put(self.invite_url(union)).status_code == 405


class TestQrAndInviteCard:
    def test_the_qr_code_is_an_svg_of_the_short_link(self, union: Any) -> None:
        response = Client().get(reverse("membership:join_qr", kwargs={"slug": union.slug}))
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
        assert response.content.lstrip().startswith(b"<?xml") and b"<svg" in response.content

    def test_the_invite_card_shows_the_link_and_qr_with_print_css(self, union: Any) -> None:
        response = Client().get(reverse("membership:join_invite_card", kwargs={"slug": union.slug}))
        body = response.content.decode()
        assert response.status_code == 200
        assert f"http://testserver/j/{union.slug}/" in body and f"/j/{union.slug}/qr.svg" in body
        assert "css/print-invite.css" in body
        assert Path("static/css/print-invite.css").read_text().count("@media print") == 1

    def test_they_refuse_post(self, union: Any) -> None:
        for name in ("join_qr", "join_invite_card"):
            assert Client().post(reverse(f"membership:{name}", kwargs={"slug": union.slug})).status_code == 405


@pytest.fixture
def signed(union: Any, unit: Any) -> Member:
    """A confirmed applicant who joined through the form."""
    Client().post(join_url(union), form_data(unit))
    Client().post(confirm_link(mail.outbox[0]))
    return Member.objects.select_related("user").get(pseudonym="Kito")


class TestCard:
    def card_url(self, name: str, card: UnionCard) -> str:
        return reverse(f"membership:{name}", kwargs={"code": card.code})

    def test_the_member_sees_their_card(self, signed: Member) -> None:
        card = signed.cards.get()
        client = login_as(Client(), signed.user)
        listing = client.get(reverse("membership:join_cards"))
        assert str(card.code).encode() in listing.content
        response = client.get(self.card_url("join_card", card))
        body = response.content.decode()
        assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
        assert CANARY_NAME in body and DEFAULT_CARD_TEXTS["en"][0] in body
        assert "I want to join the union." in body

    def test_nobody_else_sees_it_not_even_officers(self, personas: Personas, signed: Member) -> None:
        card = signed.cards.get()
        Member.objects.filter(pk=signed.pk).update(local=personas.local)
        for user in (personas.member, personas.organizer, personas.local_admin, personas.outsider):
            client = login_as(Client(), user)
            for name in ("join_card", "join_card_pdf", "join_card_revoke"):
                assert client.get(self.card_url(name, card)).status_code == 404
            assert client.post(self.card_url("join_card_revoke", card)).status_code == 404
        assert Client().get(self.card_url("join_card", card)).status_code == 302
        card.refresh_from_db()
        assert card.revoked_at is None

    def test_the_pdf_holds_the_card_text_and_signature(self, signed: Member) -> None:
        need(shutil.which("pdftotext") is not None, "poppler-utils (pdftotext) is not installed")
        card = signed.cards.get()
        response = login_as(Client(), signed.user).get(self.card_url("join_card_pdf", card))
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert "attachment" in response["Content-Disposition"] and CANARY_NAME not in response["Content-Disposition"]
        text = subprocess.run(["pdftotext", "-", "-"], input=response.content, capture_output=True,
                              check=True).stdout.decode()
        flat = " ".join(text.split())
        assert CANARY_NAME in flat and DEFAULT_CARD_TEXTS["en"][0] in flat
        assert "I authorise the union to represent me with my employer." in flat
        assert str(card.code) in flat

    def test_the_member_revokes_their_card_after_confirming(self, signed: Member) -> None:
        card = signed.cards.get()
        client = login_as(Client(), signed.user)
        page = client.get(self.card_url("join_card_revoke", card))
        assert page.status_code == 200 and b"Yes, revoke my card" in page.content
        card.refresh_from_db()
        assert card.revoked_at is None  # the GET only asks
        response = client.post(self.card_url("join_card_revoke", card))
        assert response.status_code == 302
        card.refresh_from_db()
        assert card.revoked_at is not None
        assert AuditEvent.objects.filter(action="card.revoke", target_id=str(card.code)).count() == 1
        assert b"You revoked this card" in client.get(self.card_url("join_card", card)).content
        client.post(self.card_url("join_card_revoke", card))
        assert AuditEvent.objects.filter(action="card.revoke").count() == 1

    def test_card_pages_refuse_wrong_methods(self, signed: Member) -> None:
        card = signed.cards.get()
        client = login_as(Client(), signed.user)
        assert client.post(self.card_url("join_card", card)).status_code == 405
        assert client.post(self.card_url("join_card_pdf", card)).status_code == 405
        assert client.put(self.card_url("join_card_revoke", card)).status_code == 405


class TestCanary:
    """What a visitor typed never appears in clear in the database or a dump."""

    def submit_everything(self, union: Any, unit: Any) -> None:
        Client().post(join_url(union), form_data(unit))
        Client().post(confirm_link(mail.outbox[0]))
        # A duplicate too: its details must not be stored anywhere either.
        Client().post(join_url(union), form_data(unit, handle="kito2"))

    def assert_clean(self, blob: str) -> None:
        for canary in (CANARY_NAME, CANARY_EMAIL, CANARY_PHONE, CANARY_PHONE_DIGITS, "Qoplentine", "canary-join"):
            assert canary not in blob, canary

    def test_dumpdata_holds_no_plaintext(self, union: Any, unit: Any) -> None:
        self.submit_everything(union, unit)
        out = io.StringIO()
        call_command("dumpdata", stdout=out)
        dump = out.getvalue()
        assert '"kito"' in dump  # the rows are there
        self.assert_clean(dump)

    def test_no_table_holds_plaintext(self, union: Any, unit: Any) -> None:
        self.submit_everything(union, unit)
        seen = []
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from introspection
                for row in cursor.fetchall():
                    for value in row:
                        text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
                        seen.append(text)
        blob = "\n".join(seen)
        assert "kito" in blob
        self.assert_clean(blob)


def test_default_card_texts_are_idempotent(union: Any) -> None:
    assert ensure_default_card_texts(union) == []
    assert set(CardText.objects.filter(union=union).values_list("language", flat=True)) == {"en", "fr", "sw", "es"}
    assert union.name in CardText.objects.get(union=union, language="sw").body
