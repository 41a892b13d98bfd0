"""The signed card's PDF is a kept document: stored once, the same bytes after, a new version on revocation."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from membership.cards import CARD_KIND
from membership.cardtext import ensure_default_card_texts
from membership.models import Member, UnionCard
from membership.services import card_revoke, card_sign, current_card_text
from tests.base import Personas, login_as
from tests.services import need
from union.models import Document

SIGNATURE = "Qoplentine Zyxwanaria"


@pytest.fixture
def card(personas: Personas) -> UnionCard:
    ensure_default_card_texts(personas.local.union)
    card_text = current_card_text(personas.local.union, "en")
    assert card_text is not None
    member = Member.objects.get(user=personas.member)
    return card_sign(member=member, card_text=card_text,
                     signature_name=SIGNATURE, consents={"consent_join": "I want to join the union."},
                     advance_status=False)


def download(personas: Personas, card: UnionCard, who: str = "member") -> Any:
    response = login_as(Client(), personas.get(who)).get(reverse("membership:join_card_pdf", kwargs={"code": card.code}))
    return response


def text_of(pdf: bytes) -> str:
    need(shutil.which("pdftotext") is not None, "poppler-utils (pdftotext) is not installed")
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return " ".join(out.split())


def test_the_first_download_stores_the_card_and_later_ones_return_the_same_bytes(
        personas: Personas, card: UnionCard) -> None:
    first, second = download(personas, card), download(personas, card)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    document = Document.objects.get(kind=CARD_KIND, owner_code=str(card.code))
    assert document.version == 1 and hashlib.sha256(first.content).hexdigest() == document.sha256
    assert list(document.custody.values_list("action", "actor_id")) == [
        ("stored", personas.member.pk), ("downloaded", personas.member.pk), ("downloaded", personas.member.pk)]
    raw = (Path(settings.MEDIA_ROOT) / "documents" / f"{document.storage_name}.bin").read_bytes()
    assert b"%PDF" not in raw and SIGNATURE.encode() not in raw
    assert SIGNATURE in text_of(first.content)


def test_a_revoked_card_is_stored_again_as_a_new_version(personas: Personas, card: UnionCard) -> None:
    before = download(personas, card).content
    card_revoke(actor=personas.member, card=card)
    after = download(personas, card).content
    versions = list(Document.objects.filter(kind=CARD_KIND, owner_code=str(card.code)).order_by("version"))
    assert [d.version for d in versions] == [1, 2]
    assert hashlib.sha256(before).hexdigest() == versions[0].sha256
    assert hashlib.sha256(after).hexdigest() == versions[1].sha256
    assert "Revoked on" in text_of(after) and "Revoked on" not in text_of(before)
    download(personas, card)
    assert Document.objects.filter(kind=CARD_KIND).count() == 2


@pytest.mark.parametrize("who", ["organizer", "local_admin", "outsider", "steward"])
def test_nobody_else_gets_the_card_and_nothing_is_stored(personas: Personas, card: UnionCard, who: str) -> None:
    assert download(personas, card, who).status_code == 404
    assert not Document.objects.filter(kind=CARD_KIND).exists()


def test_erasing_the_member_destroys_the_stored_card_pdfs(personas: Personas, card: UnionCard,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    from membership.self_service import member_erase

    download(personas, card)
    card_revoke(actor=personas.member, card=card)
    download(personas, card)
    stored = [Path(settings.MEDIA_ROOT) / "documents" / f"{d.storage_name}.bin"
              for d in Document.objects.filter(kind=CARD_KIND)]
    assert len(stored) == 2 and all(path.exists() for path in stored)
    with django_capture_on_commit_callbacks(execute=True):
        member_erase(actor=personas.member, member=Member.objects.get(user=personas.member))
    assert not Document.objects.filter(kind=CARD_KIND).exists()
    assert not any(path.exists() for path in stored)
