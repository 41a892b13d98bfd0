"""The document layer: kept files (letters, cards, demands), versioned, hashed, encrypted, in custody.

An app stores a document under a `kind` it owns ("grievances.letter", "membership.card",
"bargaining.demand") and the `code` of the object it belongs to. Each store is a new version; a
stored version is never changed. Every store and every read writes a custody row (who, when: ids
only). The owning app checks access before calling `document_read` (this module knows nothing of
who may see what), and records its own audit entry when the event matters to the case.

    document = document_render(kind="grievances.letter", owner_code=grievance.code, actor_id=user.pk,
                               template="grievances/pdf/letter.html", context={...})
    pdf = document_read(document=document, actor_id=user.pk)
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from union.crypto import DecryptionError
from union.files import new_name
from union.models import Document, DocumentCustody
from union.pdf import html_to_pdf

KIND_MAX = 60
# Concurrent stores for one owner are rare (two officers at the same second); each lost race retries.
ATTEMPTS = 10
ERR_KIND = "A document kind looks like 'app.name' (lowercase letters, digits, dots, underscores)."
ERR_EMPTY = "A document cannot be empty."


class DocumentCorrupted(DecryptionError):
    """The file decrypted but its SHA-256 is not the one recorded when it was stored."""


def _check_kind(kind: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789._")
    if not kind or len(kind) > KIND_MAX or "." not in kind or not set(kind) <= allowed:
        raise ValueError(ERR_KIND)


def document_store(*, kind: str, owner_code: Any, content: bytes, actor_id: int | None,
                   content_type: str = "application/pdf") -> Document:
    """Keep `content` as the next version of (kind, owner): encrypted file, hash, custody row.

    Atomic: if the row cannot be written the file is removed, and if the file cannot be written
    no row remains. Two concurrent stores for one owner cannot take the same version: the unique
    constraint refuses the second, which then tries again with the next number.
    """
    _check_kind(kind)
    if not content:
        raise ValueError(ERR_EMPTY)
    sha256 = hashlib.sha256(content).hexdigest()
    for attempt in range(ATTEMPTS):
        document = None
        try:
            with transaction.atomic():
                latest = Document.objects.of(kind, owner_code).aggregate(v=Max("version"))["v"] or 0
                document = Document(kind=kind, owner_code=str(owner_code), version=latest + 1,
                                    content_type=content_type, size=len(content), sha256=sha256,
                                    storage_name=new_name(), created_by_id=actor_id)
                document.save()
                _field().write(document, content)
                DocumentCustody.objects.create(document=document, action=DocumentCustody.Action.STORED,
                                               actor_id=actor_id)
            return document
        except IntegrityError:
            _discard(document)
            if attempt == ATTEMPTS - 1:
                raise
        except BaseException:
            _discard(document)
            raise
    raise AssertionError("unreachable")


def document_render(*, kind: str, owner_code: Any, template: str, context: dict[str, Any],
                    actor_id: int | None) -> Document:
    """Render `template` to PDF through union/pdf.py and store it as the next version.

    The PDF is in the active language: wrap the call in `translation.override()` to choose it.
    """
    return document_store(kind=kind, owner_code=owner_code, content=html_to_pdf(template, context),
                          actor_id=actor_id)


def document_read(*, document: Document, actor_id: int | None,
                  action: str = DocumentCustody.Action.DOWNLOADED) -> bytes:
    """The document's bytes, checked against its SHA-256; the read is written to its custody.

    The caller checked access. A file that was swapped, edited or whose key is gone raises
    (DecryptionError, or DocumentCorrupted when the hash differs); nothing is returned then.
    """
    content = _field().load(document)
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise DocumentCorrupted(f"document {document.code} does not match its recorded SHA-256")
    DocumentCustody.objects.create(document=document, action=action, actor_id=actor_id)
    return content


def documents_destroy(*, kind: str, owner_code: Any) -> int:
    """Delete every version of (kind, owner): rows, custody and files; return how many versions.

    The one exception to "never changed": an erasure (a member's right to have their personal data
    gone) outranks keeping the record, and a signed card's PDF carries the name they typed. The
    files are removed only after the transaction commits, so a rolled-back erasure loses nothing.
    """
    doomed = list(Document.objects.of(kind, owner_code))
    DocumentCustody.objects.filter(document__in=doomed).delete()
    Document.objects.filter(pk__in=[d.pk for d in doomed]).delete()
    for document in doomed:
        transaction.on_commit(lambda d=document: _field().remove(d))  # type: ignore[misc]
    return len(doomed)


def latest(kind: str, owner_code: Any) -> Document | None:
    return Document.objects.of(kind, owner_code).order_by("-version").first()


def versions(kind: str, owner_code: Any) -> list[Document]:
    return list(Document.objects.of(kind, owner_code).order_by("-version"))


def _field() -> Any:
    return Document._meta.get_field("storage_name")


def _discard(document: Document | None) -> None:
    if document is not None and document.storage_name:
        _field().remove(document)
