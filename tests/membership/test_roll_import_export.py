"""CSV import (preview, per-row errors, all or nothing) and export (streamed, neutralised, audited)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from membership.models import Member, UnitHistory
from membership.roll import SESSION_KEY, neutralise
from tests.base import Personas, login_as
from tests.factories import make_unit
from union.models import AuditEvent

if TYPE_CHECKING:
    from tests.base import TestResponse

pytestmark = pytest.mark.django_db
HEADER = "pseudonym,legal_name,email,phone,unit,languages,status,dues\n"


def upload(client: Client, p: Personas, content: bytes, name: str = "roll.csv") -> TestResponse:
    url = reverse("membership:roll_import", kwargs={"local_code": p.local.code})
    return client.post(url, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def commit(client: Client, p: Personas, token: str, *, valid_only: bool = False) -> TestResponse:
    url = reverse("membership:roll_import_commit", kwargs={"local_code": p.local.code})
    return client.post(url, {"token": token, **({"valid_only": "on"} if valid_only else {})})


def imported() -> list[Member]:
    return list(Member.objects.filter(user__isnull=True).order_by("pseudonym"))


class TestImport:
    def test_a_clean_file_is_previewed_then_imported_without_accounts(self, personas: Personas) -> None:
        unit = make_unit(personas.local)
        data = (HEADER + f"Zawadi,Zawadi Njeri,zawadi@example.org,+254 700 000 001,{unit},sw en,active,paid_up\n"
                f"Kioko,,kioko@example.org,,{unit.code},,,\n").encode()
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, data)
        assert response.status_code == 200 and imported() == []
        preview = response.context["preview"]
        assert len(preview.valid) == 2 and not preview.rejected
        # The stashed upload is ciphertext: no name or address in the session row.
        stash = str(client.session[SESSION_KEY])
        assert "Zawadi" not in stash and "zawadi@example.org" not in stash
        response = commit(client, personas, response.context["commit_form"].initial["token"])
        assert response.status_code == 302
        zawadi, kioko = sorted(imported(), key=lambda m: m.pseudonym, reverse=True)
        assert (zawadi.legal_name, zawadi.email, zawadi.phone) == ("Zawadi Njeri", "zawadi@example.org", "+254700000001")
        assert zawadi.language_list == ["sw", "en"] and zawadi.dues == "paid_up" and zawadi.unit == unit
        assert kioko.status == "active" and kioko.user is None
        assert UnitHistory.objects.filter(member__in=[zawadi, kioko]).count() == 2
        event = AuditEvent.objects.get(action="roll.import")
        assert event.details == {"imported": 2, "skipped": 0} and event.actor_id == personas.organizer.pk
        assert SESSION_KEY not in client.session

    def test_every_kind_of_bad_row_is_reported_and_nothing_is_written(self, personas: Personas) -> None:
        existing = personas.steward.member
        existing.set_email("taken@example.org")
        existing.save()
        data = (HEADER + "Good,,good@example.org,,,,,\n"
                "BadEmail,,not-an-email,,,,,\n"
                "NoUnit,,,,Nowhere Ltd,,,\n"
                "Twin,,good@example.org,,,,,\n"
                "Taken,,TAKEN@example.org,,,,,\n"
                ",,,,,,,\n"
                ",Nameless,,,,,,\n"
                "Odd,,,,,,boss,rich\n").encode()
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, data)
        rows = {r.pseudonym or f"line{r.line}": " ".join(r.errors) for r in response.context["preview"].rows}
        assert rows["Good"] == ""
        assert "valid email" in rows["BadEmail"]
        assert "Unknown bargaining unit" in rows["NoUnit"]
        assert "earlier in the file" in rows["Twin"]
        assert "Already on the roll" in rows["Taken"]
        assert "pseudonym is missing" in rows["line8"]
        assert "Unknown status" in rows["Odd"] and "Unknown dues" in rows["Odd"]
        response = commit(client, personas, response.context["commit_form"].initial["token"])
        assert response.status_code == 400 and "nothing was imported" in response.content.decode()
        assert imported() == [] and not AuditEvent.objects.filter(action="roll.import").exists()

    def test_the_officer_may_choose_to_import_only_the_valid_rows(self, personas: Personas) -> None:
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, (HEADER + "Good,,good@example.org,,,,,\nBad,,nope,,,,,\n").encode())
        commit(client, personas, response.context["commit_form"].initial["token"], valid_only=True)
        assert [m.pseudonym for m in imported()] == ["Good"]
        assert AuditEvent.objects.get(action="roll.import").details == {"imported": 1, "skipped": 1}

    def test_someone_joining_between_preview_and_commit_is_caught(self, personas: Personas) -> None:
        client = login_as(Client(), personas.organizer)
        response = upload(client, personas, (HEADER + "Late,,late@example.org,,,,,\n").encode())
        m = personas.member.member
        m.set_email("late@example.org")
        m.save()
        response = commit(client, personas, response.context["commit_form"].initial["token"])
        assert response.status_code == 400 and imported() == []

    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1"])
    def test_utf8_with_or_without_bom_and_latin1_are_read(self, personas: Personas, encoding: str) -> None:
        data = (HEADER + "Hélène,Hélène Côté,,,,fr,,\n").encode(encoding)
        response = upload(login_as(Client(), personas.organizer), personas, data)
        (row,) = response.context["preview"].rows
        assert row.ok and row.pseudonym == "Hélène" and row.legal_name == "Hélène Côté"

    def test_utf16_is_refused_with_a_message(self, personas: Personas) -> None:
        response = upload(login_as(Client(), personas.organizer), personas, (HEADER + "A,,,,,,,\n").encode("utf-16"))
        assert response.status_code == 400 and "not UTF-8 or Latin-1" in response.content.decode()

    def test_windows_1252_quotes_are_flagged_per_row(self, personas: Personas) -> None:
        data = (HEADER + "Plain,,,,,,,\n").encode() + "Curly,“Q”,,,,,,\n".encode("cp1252")
        rows = upload(login_as(Client(), personas.organizer), personas, data).context["preview"].rows
        assert rows[0].ok and "another encoding" in " ".join(rows[1].errors)

    def test_a_file_without_header_is_refused(self, personas: Personas) -> None:
        response = upload(login_as(Client(), personas.organizer), personas, b"Amani,amani@example.org\n")
        assert response.status_code == 400 and "pseudonym" in response.content.decode()

    def test_semicolons_are_understood(self, personas: Personas) -> None:
        data = b"pseudonym;email\nSemi;semi@example.org\n"
        (row,) = upload(login_as(Client(), personas.organizer), personas, data).context["preview"].rows
        assert row.ok and row.email == "semi@example.org"

    def test_a_missing_file_is_a_form_error(self, personas: Personas) -> None:
        url = reverse("membership:roll_import", kwargs={"local_code": personas.local.code})
        assert login_as(Client(), personas.organizer).post(url, {}).status_code == 400

    def test_a_stale_or_foreign_token_imports_nothing(self, personas: Personas) -> None:
        client = login_as(Client(), personas.organizer)
        upload(client, personas, (HEADER + "Good,,,,,,,\n").encode())
        response = commit(client, personas, "0" * 32)
        assert response.status_code == 302 and imported() == []

    def test_a_steward_gets_403_and_an_outsider_404(self, personas: Personas) -> None:
        data = (HEADER + "Good,,,,,,,\n").encode()
        assert upload(login_as(Client(), personas.steward), personas, data).status_code == 403
        assert upload(login_as(Client(), personas.outsider), personas, data).status_code == 404
        assert commit(login_as(Client(), personas.outsider), personas, "x").status_code == 404
        assert imported() == []


class TestExport:
    def url(self, p: Personas) -> str:
        return reverse("membership:roll_export", kwargs={"local_code": p.local.code})

    def read(self, response: TestResponse) -> list[list[str]]:
        body = b"".join(response).decode("utf-8")
        assert body.startswith("\ufeff")
        return list(csv.reader(io.StringIO(body[1:])))

    def test_it_streams_decrypted_rows_and_neutralises_formulas(self, personas: Personas) -> None:
        m = personas.member.member
        m.legal_name = "=HYPERLINK(\"http://evil\")"
        m.set_email("amani@example.org")
        m.set_phone("+254 700 000 009")
        m.save()
        response = login_as(Client(), personas.organizer).get(self.url(personas))
        assert response.status_code == 200 and response.streaming and response["Content-Type"].startswith("text/csv")
        rows = self.read(response)
        assert rows[0][0] == "pseudonym" and len(rows) == 6
        row = next(r for r in rows if r[0] == m.pseudonym)
        assert row[1] == "'=HYPERLINK(\"http://evil\")" and row[2] == "amani@example.org" and row[3] == "'+254700000009"
        assert row[-1] == "member"
        event = AuditEvent.objects.get(action="roll.export")
        assert event.details == {"rows": 5, "large": False}

    @pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
    def test_each_formula_start_is_neutralised(self, text: str) -> None:
        assert neutralise(text) == "'" + text and neutralise("ok=") == "ok="

    def test_it_applies_the_rolls_filters(self, personas: Personas) -> None:
        rows = self.read(login_as(Client(), personas.organizer).get(self.url(personas), {"role": "steward"}))
        assert [r[0] for r in rows[1:]] == [personas.steward.member.pseudonym]

    def test_a_large_export_alerts_the_local_admins(self, personas: Personas, settings: Settings,
                                                     django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
        settings.TESSERA_EXPORT_ALERT_ROWS = 3
        from union import realtime

        sent: list[tuple[str, dict]] = []
        original = realtime.broadcast_many_now  # the alerts go out together (notify_users)
        realtime.broadcast_many_now = sent.extend  # type: ignore[assignment]
        try:
            with django_capture_on_commit_callbacks(execute=True):
                self.read(login_as(Client(), personas.organizer).get(self.url(personas)))
        finally:
            realtime.broadcast_many_now = original
        notices = [(g, e) for g, e in sent if e.get("kind") == "roll.export"]
        assert [g for g, _e in notices] == [f"user.{personas.local_admin.pk}"]
        assert "5 rows" in notices[0][1]["text"] and personas.organizer.handle in notices[0][1]["text"]
        assert AuditEvent.objects.get(action="roll.export").details == {"rows": 5, "large": True}
        assert AuditEvent.objects.get(action="roll.export_alert").details == {"rows": 5, "alerted": 1}

    def test_a_steward_gets_403_and_nothing_is_audited(self, personas: Personas) -> None:
        assert login_as(Client(), personas.steward).get(self.url(personas)).status_code == 403
        assert login_as(Client(), personas.outsider).get(self.url(personas)).status_code == 404
        assert not AuditEvent.objects.filter(action="roll.export").exists()

    def test_it_refuses_post(self, personas: Personas) -> None:
        assert login_as(Client(), personas.organizer).post(self.url(personas)).status_code == 405
