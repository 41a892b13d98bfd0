"""CSV import: inputs that used to answer 500 get a clear message, and export then import round-trips."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from membership.models import Member
from tests.base import Personas, login_as

if TYPE_CHECKING:
    from tests.base import TestResponse

pytestmark = pytest.mark.django_db
HEADER = "pseudonym,email,phone,languages,dues,dues_last_paid\n"


def upload(client: Client, p: Personas, content: bytes) -> TestResponse:
    url = reverse("membership:roll_import", kwargs={"local_code": p.local.code})
    return client.post(url, {"file": SimpleUploadedFile("roll.csv", content, content_type="text/csv")})


def commit(client: Client, p: Personas, response: TestResponse) -> TestResponse:
    url = reverse("membership:roll_import_commit", kwargs={"local_code": p.local.code})
    token = response.context["commit_form"].initial["token"]
    return client.post(url, {"token": token, "valid_only": "on"})


def errors(response: TestResponse) -> dict[str, str]:
    return {r.pseudonym: " ".join(r.errors) for r in response.context["preview"].rows}


def imported() -> list[Member]:
    return list(Member.objects.filter(user__isnull=True).order_by("pseudonym"))


class TestRowErrors:
    def test_a_date_that_does_not_exist_is_a_row_error_not_a_500(self, personas: Personas) -> None:
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, (HEADER + "Feb,,,,paid_up,2026-02-30\nOk,,,,paid_up,2026-02-28\n").encode())
        assert response.status_code == 200
        assert "real date" in errors(response)["Feb"] and errors(response)["Ok"] == ""
        assert commit(client, personas, response).status_code == 302
        assert [(m.pseudonym, str(m.dues_last_paid)) for m in imported()] == [("Ok", "2026-02-28")]

    def test_a_cell_over_the_csv_field_limit_is_a_clear_file_error(self, personas: Personas) -> None:
        huge = "x" * (131_072 + 1)
        response = upload(login_as(Client(), personas.organizer), personas, (HEADER + f'"{huge}",,,,,\n').encode())
        assert response.status_code == 400
        assert "too long" in response.content.decode() and imported() == []

    def test_long_or_odd_language_codes_are_row_errors(self, personas: Personas) -> None:
        # 8 codes of 40 letters each: 330 characters, which PostgreSQL's varchar(100) refused with a 500.
        long_codes = " ".join(["a" * 40] * 8)
        data = (HEADER + f"Long,,,{long_codes},,\nScript,,,<b>,,\nFine,,,sw fil pt-br,,\n").encode()
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, data)
        assert "Unknown language code" in errors(response)["Long"]
        assert "Unknown language code" in errors(response)["Script"] and errors(response)["Fine"] == ""
        assert commit(client, personas, response).status_code == 302
        (fine,) = imported()
        assert fine.language_list == ["sw", "fil", "pt-br"]


    def test_hidden_characters_in_names_are_row_errors(self, personas: Personas) -> None:
        data = "pseudonym,legal_name\nAma\u202eni,\nOk,Zawadi\u2066Njeri\u2069\nFine,Zawadi Njeri\n".encode()
        response = upload(login_as(Client(), personas.organizer), personas, data)
        rows = errors(response)
        assert "invisible" in rows["Ama\u202eni"] and "invisible" in rows["Ok"] and rows["Fine"] == ""

    def test_imported_members_get_their_pseudonym_key(self, personas: Personas) -> None:
        client = login_as(Client(), personas.organizer)
        commit(client, personas, upload(client, personas, (HEADER + "Wanjiru,,,,,\n").encode()))
        assert Member.objects.get(pseudonym="Wanjiru").pseudonym_key == "wanjlru"


class TestRoundTrip:
    def export(self, client: Client, p: Personas) -> bytes:
        response = client.get(reverse("membership:roll_export", kwargs={"local_code": p.local.code}))
        return b"".join(response)

    def test_export_then_import_flags_every_row_as_already_on_the_roll(self, personas: Personas) -> None:
        for pseudonym, phone, email in (("PhoneOnly", "+254 700 000 111", ""), ("Both", "+254 700 000 222",
                                                                                 "both@example.org"),
                                         ("Bare", "", "")):
            m = Member(union=personas.local.union, local=personas.local, pseudonym=pseudonym,
                       status=Member.Status.ACTIVE)
            m.set_phone(phone)
            m.set_email(email)
            m.save()
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, self.export(client, personas))
        rows = response.context["preview"].rows
        assert rows and all("Already on the roll" in " ".join(r.errors) for r in rows), errors(response)

    def test_phones_survive_export_then_import(self, personas: Personas) -> None:
        m = Member(union=personas.local.union, local=personas.local, pseudonym="Roundtrip",
                   status=Member.Status.ACTIVE)
        m.set_phone("+254 700 000 333")
        m.save()
        client = login_as(Client(), personas.organizer)
        exported = self.export(client, personas).decode("utf-8-sig")
        only = [r for r in csv.reader(io.StringIO(exported)) if r[0] in ("pseudonym", "Roundtrip")]
        assert only[1][3] == "'+254700000333"  # neutralised for spreadsheets
        m.delete()
        out = io.StringIO()
        csv.writer(out).writerows(only)
        response = upload(client, personas, out.getvalue().encode())
        assert errors(response) == {"Roundtrip": ""}
        commit(client, personas, response)
        (back,) = imported()
        assert back.phone == "+254700000333" and back.phone_index == m.phone_index
