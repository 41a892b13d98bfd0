"""The shared document layer: versions, hashes, encryption on disk bound to the row, custody."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from union import crypto, documents
from union.documents import DocumentCorrupted, document_read, document_render, document_store
from union.models import Document, DocumentCustody

CANARY = b"CANARY-DOCUMENT-TEXT the employer must not read this"
OWNER = "8d1f0c52-6f57-4d2e-9d3e-0f1b4a0c7e11"


def file_of(document: Document) -> Path:
    return Path(django_settings.MEDIA_ROOT) / "documents" / f"{document.storage_name}.bin"


@pytest.mark.django_db
class TestStore:
    def test_it_keeps_versions_with_their_hash_and_reads_them_back(self) -> None:
        first = document_store(kind="test.note", owner_code=OWNER, content=CANARY + b" v1", actor_id=7)
        second = document_store(kind="test.note", owner_code=OWNER, content=CANARY + b" v2", actor_id=8)
        assert (first.version, second.version) == (1, 2)
        assert first.sha256 == hashlib.sha256(CANARY + b" v1").hexdigest() and first.size == len(CANARY) + 3
        assert document_read(document=first, actor_id=9) == CANARY + b" v1"
        assert document_read(document=second, actor_id=9) == CANARY + b" v2"
        assert documents.latest("test.note", OWNER) == second
        assert [d.version for d in documents.versions("test.note", OWNER)] == [2, 1]

    def test_the_same_content_has_the_same_hash_but_is_a_new_version(self) -> None:
        a = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        b = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        assert a.sha256 == b.sha256 == hashlib.sha256(CANARY).hexdigest()
        assert a.storage_name != b.storage_name and b.version == 2

    def test_owners_and_kinds_count_their_versions_apart(self) -> None:
        document_store(kind="test.note", owner_code=OWNER, content=b"x", actor_id=None)
        other_owner = document_store(kind="test.note", owner_code="other", content=b"x", actor_id=None)
        other_kind = document_store(kind="test.memo", owner_code=OWNER, content=b"x", actor_id=None)
        assert other_owner.version == other_kind.version == 1

    def test_the_file_on_disk_holds_no_plaintext_and_names_its_key(self) -> None:
        document = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        raw = file_of(document).read_bytes()
        assert CANARY not in raw and b"CANARY" not in raw
        assert crypto.key_id_of(raw) == crypto.key_ring().primary_id

    def test_custody_records_who_stored_and_who_read(self) -> None:
        document = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=41)
        document_read(document=document, actor_id=42)
        document_read(document=document, actor_id=43, action=DocumentCustody.Action.READ)
        rows = list(document.custody.values_list("action", "actor_id"))
        assert rows == [("stored", 41), ("downloaded", 42), ("read", 43)]
        assert document.created_by_id == 41

    def test_a_stored_document_is_never_changed(self) -> None:
        document = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        document.owner_code = "someone-else"
        with pytest.raises(ValueError, match="never changed"):
            document.save()
        assert Document.objects.get(pk=document.pk).owner_code == OWNER

    @pytest.mark.parametrize(("kind", "content"), [
        ("", b"x"), ("nodot", b"x"), ("Test.Upper", b"x"), ("test.../etc", b"x"), ("a." + "b" * 60, b"x"),
        ("test.note", b""),
    ])
    def test_bad_input_stores_nothing(self, kind: str, content: bytes) -> None:
        with pytest.raises(ValueError):
            document_store(kind=kind, owner_code=OWNER, content=content, actor_id=None)
        assert not Document.objects.exists()
        folder = Path(django_settings.MEDIA_ROOT) / "documents"
        assert not folder.exists() or not any(folder.iterdir())

    def test_a_file_that_cannot_be_written_leaves_no_row(self, settings: Any, tmp_path: Path) -> None:
        blocker = tmp_path / "not-a-directory"
        blocker.write_bytes(b"")
        settings.MEDIA_ROOT = blocker  # documents/ cannot be created under a regular file
        with pytest.raises(OSError):
            document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        assert not Document.objects.exists() and not DocumentCustody.objects.exists()


@pytest.mark.django_db
class TestBinding:
    """The file is bound to its row: swapped files, or rows edited to point elsewhere, do not read."""

    def test_a_file_copied_over_another_does_not_decrypt(self) -> None:
        a = document_store(kind="test.note", owner_code=OWNER, content=b"first", actor_id=None)
        b = document_store(kind="test.note", owner_code=OWNER, content=b"second", actor_id=None)
        shutil.copyfile(file_of(a), file_of(b))
        with pytest.raises(crypto.DecryptionError):
            document_read(document=b, actor_id=None)
        assert not DocumentCustody.objects.filter(action="downloaded").exists()

    @pytest.mark.parametrize(("field", "value"), [("owner_code", "another-case"), ("version", 9),
                                                  ("kind", "test.other"), ("sha256", "0" * 64)])
    def test_a_row_edited_in_the_database_does_not_decrypt(self, field: str, value: Any) -> None:
        document = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        Document.objects.filter(pk=document.pk).update(**{field: value})
        with pytest.raises(crypto.DecryptionError):
            document_read(document=Document.objects.get(pk=document.pk), actor_id=None)

    def test_a_file_that_does_not_match_its_hash_is_refused(self) -> None:
        # Written with the right binding but other bytes (as someone holding the key could): the
        # recorded hash still catches it.
        document = document_store(kind="test.note", owner_code=OWNER, content=CANARY, actor_id=None)
        Document._meta.get_field("storage_name").write(document, b"forged")
        with pytest.raises(DocumentCorrupted):
            document_read(document=document, actor_id=None)


@pytest.mark.django_db
def test_it_renders_through_the_pdf_engine() -> None:
    document = document_render(kind="test.sample", owner_code=OWNER, template="pdf/sample.html",
                               context={"title": "Sample"}, actor_id=5)
    pdf = document_read(document=document, actor_id=5)
    assert pdf.startswith(b"%PDF-") and document.content_type == "application/pdf"
    assert b"%PDF" not in file_of(document).read_bytes()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_stores_for_one_owner_take_consecutive_versions() -> None:
    import threading

    from django.db import connection, connections

    from tests.services import need

    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL): SQLite serializes writers")
    barrier, errors = threading.Barrier(4), []

    def store(i: int) -> None:
        try:
            barrier.wait()
            document_store(kind="test.race", owner_code=OWNER, content=f"copy {i}".encode(), actor_id=i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=store, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(Document.objects.of("test.race", OWNER).values_list("version", flat=True)) == [1, 2, 3, 4]
    for document in Document.objects.of("test.race", OWNER):
        assert document_read(document=document, actor_id=None).startswith(b"copy ")
