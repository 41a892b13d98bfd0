"""Evidence pages: uploads refused for every trick, image metadata removed, downloads, chain of custody."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from grievances.evidence import MAX_BYTES
from grievances.models import Custody, Evidence, Grievance
from grievances.services import evidence_read, evidence_upload
from grievances.views.work import safe_filename
from tests.base import Personas, login_as
from tests.grievances.factories import make_case
from union.models import AuditEvent

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
BOUNDARY = "tessera-test-boundary"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (32, 32), "blue")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "S", 2: (1.0, 17.0, 30.0), 3: "E", 4: (36.0, 49.0, 0.0)}  # GPS: Nairobi
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def raw_upload(client: Client, grievance: Grievance, name: str, content: bytes) -> Any:
    """A multipart POST built by hand, so the file name reaches the server exactly as written
    (Django's test client would strip any path from it first)."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode("utf-8", "surrogateescape")
    body = head + content + f"\r\n--{BOUNDARY}--\r\n".encode()
    return client.post(reverse("grievances:work_evidence_upload", kwargs={"code": grievance.code}), data=body,
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


class TestUploadAttacks:
    @pytest.mark.parametrize(("name", "content", "message"), [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "Only PDF, PNG, JPEG"),
        ("page.html", b"<html><script>alert(1)</script></html>", "Only PDF, PNG, JPEG"),
        ("photo.jpg", PDF, "does not match what it contains"),
        ("notes.txt", PNG_HEADER + b"\x00\x00\x00\rIHDR", "does not match what it contains"),
        ("empty.pdf", b"", "The file is empty"),
        ("../../etc/passwd.txt", b"root:x:0:0\n", "file name is not acceptable"),
        ("a/b.pdf", PDF, "file name is not acceptable"),
        ("..\\x.pdf", PDF, "file name is not acceptable"),
        ("report\x00.pdf", PDF, "file name is not acceptable"),
        ("report\x07.pdf", PDF, "file name is not acceptable"),
        ("report\x1b[2J.pdf", PDF, "file name is not acceptable"),
        (".htaccess", b"Deny from all\n", "file name is not acceptable"),
    ])
    def test_it_refuses_and_leaves_nothing_behind(self, personas: Personas, media: Path, name: str,
                                                  content: bytes, message: str) -> None:
        case = make_case(personas)
        response = raw_upload(login_as(Client(), personas.member), case, name, content)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert not Evidence.objects.exists() and not Custody.objects.exists()
        assert stored_files(media) == []
        assert not AuditEvent.objects.filter(action="evidence.upload").exists()

    def test_it_refuses_a_file_just_over_10_mb(self, personas: Personas, media: Path) -> None:
        case = make_case(personas)
        response = raw_upload(login_as(Client(), personas.steward), case, "big.txt", b"a" * (MAX_BYTES + 1))
        assert response.status_code == 400
        assert "larger than 10 MB" in response.content.decode()
        assert not Evidence.objects.exists() and stored_files(media) == []

    def test_it_accepts_exactly_10_mb(self, personas: Personas, media: Path) -> None:
        case = make_case(personas)
        response = raw_upload(login_as(Client(), personas.steward), case, "big.txt", b"a\n" * (MAX_BYTES // 2))
        assert response.status_code == 302
        assert Evidence.objects.get().size == MAX_BYTES

    def test_a_second_file_in_one_request_is_ignored(self, personas: Personas) -> None:
        case = make_case(personas)
        part = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{{}}"\r\n'
                "Content-Type: text/plain\r\n\r\n{}\r\n")
        body = (part.format("a.txt", "first") + part.format("b.txt", "second") + f"--{BOUNDARY}--\r\n").encode()
        client = login_as(Client(), personas.member)
        client.post(reverse("grievances:work_evidence_upload", kwargs={"code": case.code}), data=body,
                    content_type=f"multipart/form-data; boundary={BOUNDARY}")
        assert [e.filename for e in Evidence.objects.all()] == ["a.txt"]


class TestUpload:
    def test_a_grievant_uploads_to_their_own_case(self, personas: Personas, media: Path) -> None:
        case = make_case(personas)
        client = login_as(Client(), personas.member)
        response = raw_upload(client, case, "payslip.pdf", PDF)
        assert response.status_code == 302
        evidence = Evidence.objects.get()
        assert evidence.content_type == "application/pdf" and evidence.sha256 == hashlib.sha256(PDF).hexdigest()
        assert evidence.custody.get().action == Custody.Action.UPLOAD
        assert evidence.custody.get().actor == personas.member
        # Encrypted at rest: the bytes on disk are not the file.
        (on_disk,) = stored_files(media)
        assert PDF not in on_disk.read_bytes() and b"%PDF" not in on_disk.read_bytes()
        page = client.get(response["Location"]).content.decode().replace("<wbr>", "")
        assert evidence.sha256 in page and "payslip.pdf" in page

    def test_the_uploaded_image_loses_exif_and_location(self, personas: Personas) -> None:
        original = jpeg_with_gps()
        assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "the test image must carry GPS"
        case = make_case(personas)
        response = raw_upload(login_as(Client(), personas.member), case, "screen.jpg", original)
        assert response.status_code == 302
        stored = evidence_read(actor=personas.steward, evidence=Evidence.objects.get())
        image = Image.open(io.BytesIO(stored))
        assert image.format == "JPEG" and image.size == (32, 32)
        assert not image.getexif() and not image.getexif().get_ifd(0x8825)
        assert "exif" not in image.info and b"Exif" not in stored and b"PhoneMaker" not in stored

    def test_the_list_shows_the_sha256_and_custody(self, personas: Personas) -> None:
        case = make_case(personas)
        evidence = evidence_upload(actor=personas.steward, grievance=case, name="log.txt", content=b"shift log\n")
        evidence_read(actor=personas.local_admin, evidence=evidence)
        page = login_as(Client(), personas.member).get(
            reverse("grievances:work_evidence", kwargs={"code": case.code})).content.decode().replace("<wbr>", "")
        assert evidence.sha256 in page
        assert personas.steward.handle in page and personas.local_admin.handle in page
        assert "Downloaded" in page and "Uploaded" in page

    def test_a_read_only_officer_may_not_upload(self, personas: Personas) -> None:
        case = make_case(personas)
        assert raw_upload(login_as(Client(), personas.organizer), case, "a.pdf", PDF).status_code == 403
        assert not Evidence.objects.exists()

    def test_the_outsider_gets_404(self, personas: Personas) -> None:
        case = make_case(personas)
        assert raw_upload(login_as(Client(), personas.outsider), case, "a.pdf", PDF).status_code == 404
        assert not Evidence.objects.exists()

    def test_it_answers_get_with_405(self, personas: Personas) -> None:
        case = make_case(personas)
        url = reverse("grievances:work_evidence_upload", kwargs={"code": case.code})
        assert login_as(Client(), personas.steward).get(url).status_code == 405

    def test_the_form_needs_the_csrf_token(self, personas: Personas) -> None:
        case = make_case(personas)
        client = login_as(Client(enforce_csrf_checks=True), personas.member)
        assert raw_upload(client, case, "a.pdf", PDF).status_code == 403
        assert not Evidence.objects.exists()


class TestDownload:
    def test_it_is_an_attachment_with_nosniff_and_records_custody(self, personas: Personas) -> None:
        case = make_case(personas)
        evidence = evidence_upload(actor=personas.steward, grievance=case, name="notes on shift.txt",
                                   content=b"<script>x</script>\n")
        response = login_as(Client(), personas.member).get(
            reverse("grievances:work_evidence_download", kwargs={"code": evidence.code}))
        assert response.status_code == 200
        assert response.content == b"<script>x</script>\n"
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"] == 'attachment; filename="notes on shift.txt"'
        assert "no-store" in response["Cache-Control"]
        download = evidence.custody.get(action=Custody.Action.DOWNLOAD)
        assert download.actor == personas.member
        assert AuditEvent.objects.filter(action="evidence.download").count() == 1

    def test_a_pdf_keeps_its_stored_type(self, personas: Personas) -> None:
        evidence = evidence_upload(actor=personas.steward, grievance=make_case(personas), name="a.pdf", content=PDF)
        response = login_as(Client(), personas.steward).get(
            reverse("grievances:work_evidence_download", kwargs={"code": evidence.code}))
        assert response["Content-Type"] == "application/pdf" and response.content == PDF

    def test_the_outsider_gets_404_and_no_custody_row(self, personas: Personas) -> None:
        evidence = evidence_upload(actor=personas.steward, grievance=make_case(personas), name="a.pdf", content=PDF)
        response = login_as(Client(), personas.outsider).get(
            reverse("grievances:work_evidence_download", kwargs={"code": evidence.code}))
        assert response.status_code == 404
        assert not evidence.custody.filter(action=Custody.Action.DOWNLOAD).exists()

    @pytest.mark.parametrize(("stored", "sent"), [
        ('a"; filename=evil.html', "a__ filename_evil.html"),
        ("line\r\nSet-Cookie: x.txt", "line__Set-Cookie_ x.txt"),
        ("../../x.txt", "_.._x.txt"),
        ("...", "fallback"),
    ])
    def test_the_download_name_is_made_safe(self, stored: str, sent: str) -> None:
        assert safe_filename(stored, "fallback") == sent
