"""Step letters: the PDF says what the steward wrote, names grievants only with consent, never changes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from grievances.models import Grievance, Letter, LetterRequest
from grievances.services import letter_issue, letter_request
from membership.models import Member, User
from tests.base import Personas, login_as
from tests.grievances.factories import make_case, number
from tests.services import need
from union.documents import document_read
from union.models import AuditEvent, Document

NARRATIVE = "CANARY-NARRATIVE the team lead shouted at me"
FACTS = "On 3 March the night shift was not paid.\nThe payslip shows 0 hours."


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    need(shutil.which("pdftotext") is not None, "pdftotext not found (apt-get install poppler-utils)")
    source = tmp_path / "letter.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True,  # noqa: S607
                          text=True).stdout


def stored(letter: Letter) -> bytes:
    return document_read(document=letter.document, actor_id=None)


def named_case(p: Personas, **fields: Any) -> Grievance:
    member = Member.objects.get(user=p.member)
    member.legal_name = "Wanjiru Kamau"
    member.save()
    return make_case(p, narrative=NARRATIVE, contract_article="Article 12.3", **fields)


def issue(client: Client, grievance: Grievance, facts: str = FACTS) -> Any:
    return client.post(reverse("grievances:work_letter_issue", kwargs={"code": grievance.code}), {"facts": facts})


class TestContent:
    def test_the_letter_holds_the_edited_facts_and_no_name_without_consent(self, personas: Personas,
                                                                          tmp_path: Path) -> None:
        case = named_case(personas)
        response = issue(login_as(Client(), personas.steward), case)
        assert response.status_code == 302
        letter = Letter.objects.get()
        text = pdf_text(stored(letter), tmp_path)
        assert number(case) in text and "Article 12.3" in text
        assert "night shift was not paid" in text and "payslip shows 0 hours" in text
        assert "Pay what is owed" in text
        assert "Wanjiru" not in text and "Kamau" not in text
        assert "One member of the bargaining unit" in text
        assert "CANARY-NARRATIVE" not in text

    def test_the_letter_names_the_grievant_who_consented(self, personas: Personas, tmp_path: Path) -> None:
        case = named_case(personas, letter_may_name=True)
        issue(login_as(Client(), personas.steward), case)
        text = pdf_text(stored(Letter.objects.get()), tmp_path)
        assert "Wanjiru Kamau" in text

    def test_consent_does_not_override_a_case_hidden_from_the_letter(self, personas: Personas,
                                                                     tmp_path: Path) -> None:
        case = named_case(personas, letter_may_name=True, confidentiality=Grievance.Confidentiality.NO_LETTER)
        issue(login_as(Client(), personas.steward), case)
        text = pdf_text(stored(Letter.objects.get()), tmp_path)
        assert "Wanjiru" not in text


class TestPage:
    def test_the_narrative_is_offered_only_when_the_steward_asks(self, personas: Personas) -> None:
        case = named_case(personas)
        client = login_as(Client(), personas.steward)
        url = reverse("grievances:work_letters", kwargs={"code": case.code})
        assert NARRATIVE not in client.get(url).content.decode()
        assert NARRATIVE in client.get(url, {"start": "narrative"}).content.decode()

    def test_a_read_only_officer_sees_letters_but_cannot_start_from_the_narrative(self, personas: Personas) -> None:
        case = named_case(personas)
        letter_issue(actor=personas.steward, grievance=case, facts=FACTS)
        page = login_as(Client(), personas.organizer).get(
            reverse("grievances:work_letters", kwargs={"code": case.code}), {"start": "narrative"})
        assert page.status_code == 200
        content = page.content.decode().replace("<wbr>", "")
        assert NARRATIVE not in content and Letter.objects.get().sha256 in content
        assert reverse("grievances:work_letter_issue", kwargs={"code": case.code}) not in content


class TestIssue:
    def test_versions_are_kept_and_never_change(self, personas: Personas) -> None:
        case = named_case(personas)
        client = login_as(Client(), personas.steward)
        issue(client, case, "First version of the facts.")
        first = Letter.objects.get()
        first_bytes = stored(first)
        issue(client, case, "Second version of the facts.")
        letters = list(Letter.objects.order_by("version"))
        assert [letter.version for letter in letters] == [1, 2]
        for letter in letters:
            assert hashlib.sha256(stored(letter)).hexdigest() == letter.sha256
        assert stored(first) == first_bytes
        assert Letter.objects.get(pk=first.pk).sha256 == first.sha256
        assert letters[0].sha256 != letters[1].sha256
        page = client.get(reverse("grievances:work_letters", kwargs={"code": case.code})).content.decode().replace(
            "<wbr>", "")
        assert letters[0].sha256 in page and letters[1].sha256 in page
        assert AuditEvent.objects.filter(action="grievance.letter").count() == 2

    def test_the_download_is_the_stored_pdf(self, personas: Personas) -> None:
        letter = letter_issue(actor=personas.steward, grievance=named_case(personas), facts=FACTS)
        response = login_as(Client(), personas.local_admin).get(
            reverse("grievances:work_letter_download", kwargs={"code": letter.code}))
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert hashlib.sha256(response.content).hexdigest() == letter.sha256
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("attachment;")
        assert AuditEvent.objects.filter(action="grievance.letter_download").exists()

    def test_empty_facts_issue_nothing(self, personas: Personas, media: Path) -> None:
        case = named_case(personas)
        response = issue(login_as(Client(), personas.steward), case, "   ")
        assert response.status_code == 400
        assert not Letter.objects.exists() and not (media / "documents").exists()

    @pytest.mark.parametrize(("persona", "status"), [("organizer", 403), ("member", 404), ("outsider", 404)])
    def test_only_those_who_work_the_case_issue(self, personas: Personas, persona: str, status: int) -> None:
        case = named_case(personas)
        assert issue(login_as(Client(), personas.get(persona)), case).status_code == status
        assert not Letter.objects.exists()

    def test_it_answers_get_with_405(self, personas: Personas) -> None:
        url = reverse("grievances:work_letter_issue", kwargs={"code": named_case(personas).code})
        assert login_as(Client(), personas.steward).get(url).status_code == 405

    @pytest.mark.parametrize("persona", ["member", "outsider"])
    def test_grievants_and_outsiders_cannot_download(self, personas: Personas, persona: str) -> None:
        letter = letter_issue(actor=personas.steward, grievance=named_case(personas), facts=FACTS)
        response = login_as(Client(), personas.get(persona)).get(
            reverse("grievances:work_letter_download", kwargs={"code": letter.code}))
        assert response.status_code == 404


class TestDocumentLayer:
    def test_the_letter_is_a_version_of_the_cases_document_with_custody(self, personas: Personas,
                                                                       media: Path) -> None:
        case = named_case(personas)
        issue(login_as(Client(), personas.steward), case)
        letter = Letter.objects.select_related("document").get()
        document = letter.document
        assert (document.kind, document.owner_code, document.version) == ("grievances.letter", str(case.code), 1)
        assert list(document.custody.values_list("action", "actor_id")) == [("stored", personas.steward.pk)]
        raw = (media / "documents" / f"{document.storage_name}.bin").read_bytes()
        assert b"%PDF" not in raw and b"night shift" not in raw and str(case.number).encode() not in raw
        response = login_as(Client(), personas.local_admin).get(
            reverse("grievances:work_letter_download", kwargs={"code": letter.code}))
        assert hashlib.sha256(response.content).hexdigest() == document.sha256
        assert document.custody.filter(action="downloaded", actor_id=personas.local_admin.pk).count() == 1

    def test_an_outsider_download_writes_no_custody(self, personas: Personas) -> None:
        letter = letter_issue(actor=personas.steward, grievance=named_case(personas), facts=FACTS)
        response = login_as(Client(), personas.outsider).get(
            reverse("grievances:work_letter_download", kwargs={"code": letter.code}))
        assert response.status_code == 404
        assert not letter.document.custody.filter(action="downloaded").exists()

    def test_a_letter_of_another_case_is_a_separate_series(self, personas: Personas) -> None:
        first = letter_issue(actor=personas.steward, grievance=named_case(personas), facts=FACTS)
        second = letter_issue(actor=personas.steward, grievance=make_case(personas), facts=FACTS)
        assert first.version == second.version == 1
        assert first.document.owner_code != second.document.owner_code


class TestSignature:
    def test_it_is_signed_with_the_stewards_pseudonym_never_the_handle(self, personas: Personas,
                                                                       tmp_path: Path) -> None:
        Member.objects.filter(user=personas.steward).update(pseudonym="Comrade Otieno", legal_name="Hidden Legal")
        letter = letter_issue(actor=personas.steward, grievance=named_case(personas), facts=FACTS)
        text = " ".join(pdf_text(stored(letter), tmp_path).split())
        assert "Comrade Otieno, for the union" in text
        assert personas.steward.handle not in text and "Hidden Legal" not in text

    def test_without_a_steward_the_issuer_signs(self, personas: Personas, tmp_path: Path) -> None:
        Member.objects.filter(user=personas.local_admin).update(pseudonym="Admin Pseudonym")
        case = named_case(personas)
        Grievance.objects.filter(pk=case.pk).update(steward=None)
        case.refresh_from_db()
        letter = letter_issue(actor=personas.local_admin, grievance=case, facts=FACTS)
        text = " ".join(pdf_text(stored(letter), tmp_path).split())
        assert "Admin Pseudonym, for the union" in text and personas.local_admin.handle not in text

    def test_an_erased_steward_signs_as_the_union_alone(self, personas: Personas, tmp_path: Path) -> None:
        case = named_case(personas)
        Member.objects.filter(user=personas.steward).update(pseudonym="Gone Person", erased_at=timezone.now())
        letter = letter_issue(actor=personas.steward, grievance=case, facts=FACTS)
        text = " ".join(pdf_text(stored(letter), tmp_path).split())
        assert "Gone Person" not in text and personas.steward.handle not in text and "for the union" in text


    @pytest.mark.parametrize("loss", ["demoted", "suspended"])
    def test_a_steward_who_lost_the_role_does_not_sign(self, personas: Personas, tmp_path: Path, loss: str) -> None:
        # The case stays assigned to them until someone reassigns it; a letter issued meanwhile by
        # another officer must not present them to the employer as acting for the union.
        from membership.services import member_set_status, role_grant

        case = named_case(personas)
        Member.objects.filter(user=personas.steward).update(pseudonym="Former Steward")
        Member.objects.filter(user=personas.local_admin).update(pseudonym="Admin Pseudonym")
        steward_member = Member.objects.get(user=personas.steward)
        if loss == "demoted":
            role_grant(actor=personas.local_admin, user=personas.steward, local=case.local, role="member")
        else:
            member_set_status(actor=personas.local_admin, member=steward_member, new=Member.Status.SUSPENDED,
                              reason="Suspended pending review")
        case.refresh_from_db()
        assert case.steward == personas.steward  # still assigned: only the signature is in question
        letter = letter_issue(actor=personas.local_admin, grievance=case, facts=FACTS)
        text = " ".join(pdf_text(stored(letter), tmp_path).split())
        assert "Former Steward" not in text
        assert "Admin Pseudonym, for the union" in text


class TestBackgroundTask:
    def test_the_request_keeps_the_facts_encrypted_and_forgets_them_once_issued(self, personas: Personas) -> None:
        case = named_case(personas)
        response = issue(login_as(Client(), personas.steward), case, "CANARY-FACTS the lead shouted")
        assert response.status_code == 302
        request = LetterRequest.objects.get()
        assert request.status == LetterRequest.Status.DONE and request.letter == Letter.objects.get()
        assert request.facts is None
        with connection.cursor() as cursor:
            cursor.execute("SELECT facts FROM grievances_letterrequest")
            assert cursor.fetchone()[0] is None

    def test_a_failed_rendering_is_said_and_issues_nothing(self, personas: Personas, settings: Any,
                                                           tmp_path: Path) -> None:
        case = named_case(personas)
        blocker = tmp_path / "blocker"
        blocker.write_bytes(b"")
        settings.MEDIA_ROOT = blocker  # the document cannot be written: the task fails
        response = issue(login_as(Client(), personas.steward), case)
        assert response.status_code == 302
        request = LetterRequest.objects.get()
        assert request.status == LetterRequest.Status.FAILED and not Letter.objects.exists()
        page = login_as(Client(), personas.steward).get(response["Location"]).content.decode()
        assert "could not be prepared" in page.lower()

    # Transactional: the worker closes and reopens its database connection between tasks, as in
    # production, which would end the test's wrapping transaction on PostgreSQL.
    @pytest.mark.django_db(transaction=True)
    def test_with_the_database_backend_the_queue_holds_ids_only_and_the_worker_issues(
            self, personas: Personas, settings: Any) -> None:
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        case = named_case(personas)
        response = issue(login_as(Client(), personas.steward), case, "CANARY-FACTS the lead shouted")
        assert response.status_code == 302
        request = LetterRequest.objects.get()
        assert request.status == LetterRequest.Status.QUEUED and not Letter.objects.exists()
        page = login_as(Client(), personas.steward).get(response["Location"]).content.decode()
        assert "being prepared" in page.lower()
        with connection.cursor() as cursor:
            cursor.execute("SELECT args_kwargs FROM django_tasks_database_dbtaskresult")
            rows = cursor.fetchall()
        assert len(rows) == 1 and "CANARY" not in str(rows[0]) and str(request.pk) in str(rows[0])
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        request.refresh_from_db()
        assert request.status == LetterRequest.Status.DONE and Letter.objects.get().version == 1
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        assert Letter.objects.count() == 1

    @pytest.mark.django_db(transaction=True)
    def test_the_worker_checks_access_again_when_it_runs(self, personas: Personas, settings: Any) -> None:
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        case = named_case(personas)
        letter_request(actor=personas.steward, grievance=case, facts="CANARY-FACTS unpaid nights")
        User.objects.filter(pk=personas.steward.pk).update(is_active=False)  # gone before the worker runs
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        request = LetterRequest.objects.get()
        assert request.status == LetterRequest.Status.FAILED and request.facts is None
        assert not Letter.objects.exists() and not Document.objects.exists()
        assert AuditEvent.objects.filter(action="grievance.letter_refused").count() == 1

    def test_the_steward_is_told_when_the_letter_is_ready_with_no_detail(
            self, personas: Personas, django_capture_on_commit_callbacks: Any) -> None:
        from tests.grievances.test_reminders import OPEN_INBOXES, Inbox

        case = named_case(personas)
        inbox = Inbox(personas.steward)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                letter_request(actor=personas.steward, grievance=case, facts="CANARY-FACTS unpaid nights")
            notices = [n for n in inbox.read() if n.get("kind") == "grievance.letter"]
        finally:
            OPEN_INBOXES.remove(inbox)  # closed here; test_reminders closes only its own
            inbox.close()
        assert len(notices) == 1
        assert notices[0]["text"] == f"The letter for case {case.number} is ready."
        assert notices[0]["url"] == reverse("grievances:work_letters", kwargs={"code": case.code})
