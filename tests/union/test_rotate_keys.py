from __future__ import annotations

import base64
import hashlib
import io
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from pytest_django import Settings

from grievances.models import Grievance, Letter, LetterRequest
from grievances.services import evidence_read
from membership.devices import Authenticator
from membership.models import Member, MemberStatusChange, UnionCard, User
from tests.base import Personas, build_personas
from tests.factories import make_local, make_member
from union import crypto
from union.documents import document_read, document_store
from union.fields import encrypted_fields_by_model, key_ids_in_use
from union.files import file_key_ids_in_use, stored_file_fields_by_model
from union.models import AuditEvent, Document


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.django_db
def test_it_reencrypts_every_field_under_the_new_primary_key(settings: Settings) -> None:
    old = f"old:{new_key()}"
    settings.TESSERA_DATA_KEYS = old
    local = make_local()
    users = [make_member(local, email=f"person{i}@example.org") for i in range(3)]
    Member.objects.filter(user=users[0]).update(legal_name="Mwangi Wa Nduta")
    assert key_ids_in_use() == {"old": 4}

    settings.TESSERA_DATA_KEYS = f"new:{new_key()},{old}"
    call_command("rotate_data_keys", verbosity=0)
    assert key_ids_in_use() == {"new": 4}

    # With the old key gone, everything still reads back.
    settings.TESSERA_DATA_KEYS = settings.TESSERA_DATA_KEYS.split(",")[0]
    assert [User.objects.get(pk=u.pk).email for u in users] == [f"person{i}@example.org" for i in range(3)]
    assert Member.objects.get(user=users[0]).legal_name == "Mwangi Wa Nduta"
    assert crypto.key_ring().primary_id == "new"
    assert AuditEvent.objects.filter(action="data_keys.rotate").exists()


CANARY = "CANARY-ROTATION"


def every_kind(p: Personas) -> dict[str, Any]:
    """One of every encrypted kind: fields of each model, evidence on disk, letters, cards, documents."""
    from bargaining.consultation import comment_add, comment_hide
    from grievances.services import adverse_action_add, event_add, evidence_upload, letter_issue
    from membership.cards import card_document
    from membership.cardtext import ensure_default_card_texts
    from membership.services import card_sign, current_card_text
    from tests.bargaining.factories import make_demand
    from tests.grievances.factories import make_case

    member = Member.objects.get(user=p.member)
    member.legal_name, member.notes = f"{CANARY} legal", f"{CANARY} notes"
    member.set_email("rotation@example.org")
    member.set_phone("+254 700 111 222")
    member.save()
    MemberStatusChange.objects.create(member=member, from_status="active", to_status="lapsed",
                                      reason=f"{CANARY} reason", changed_by=p.organizer)
    ensure_default_card_texts(p.local.union)
    card_text = current_card_text(p.local.union, "en")
    assert card_text is not None
    card = card_sign(member=member, card_text=card_text, signature_name=f"{CANARY} sig",
                     consents={"consent_join": "yes"}, advance_status=False)
    case = make_case(p, narrative=f"{CANARY} narrative")
    event_add(actor=p.steward, grievance=case, kind="note", body=f"{CANARY} note")
    adverse_action_add(actor=p.steward, grievance=case, kind="quota", occurred_on=date(2026, 3, 1),
                       description=f"{CANARY} quota")
    evidence = evidence_upload(actor=p.steward, grievance=case, name="log.txt", content=f"{CANARY} evidence\n".encode())
    LetterRequest.objects.create(grievance=case, facts=f"{CANARY} facts", requested_by=p.steward)
    comment = comment_add(author=p.member, demand=make_demand(p), body=f"{CANARY} comment", anonymous=True)
    comment_hide(actor=p.representative, comment=comment, reason=f"{CANARY} hidden")
    return {
        "member": member, "card": card, "case": case, "evidence": evidence,
        "letter": letter_issue(actor=p.steward, grievance=case, facts=f"{CANARY} letter"),
        "card_document": card_document(card=card, actor_id=p.member.pk),
        "document": document_store(kind="test.rotation", owner_code="x", content=f"{CANARY} doc".encode(), actor_id=1),
    }


@pytest.mark.django_db
def test_rotation_covers_every_encrypted_field_and_file_then_the_old_key_can_go(settings: Any) -> None:
    from grievances.models import AdverseAction, Event, Evidence

    old = f"old:{new_key()}"
    settings.TESSERA_DATA_KEYS = old
    personas = build_personas()
    made = every_kind(personas)
    # Every model with an encrypted field or file has a row here, so a new kind (a TOTP device,
    # a demand) cannot be left out of this test unnoticed.
    empty = [m._meta.label for m in [*encrypted_fields_by_model(), *stored_file_fields_by_model()]
             if not m._base_manager.exists()]
    assert not empty, f"add one row of each of {empty} to every_kind() in this test"
    assert set(key_ids_in_use()) == {"old"} and set(file_key_ids_in_use()) == {"old"}
    totp_keys = dict(Authenticator.objects.values_list("pk", "key"))
    assert totp_keys  # the officers' TOTP secrets (membership.devices), encrypted under "old"
    files_before = {path: path.read_bytes() for path in Path(settings.MEDIA_ROOT).rglob("*.bin")}

    settings.TESSERA_DATA_KEYS = f"new:{new_key()},{old}"
    out = io.StringIO()
    call_command("rotate_data_keys", stdout=out, stderr=io.StringIO())
    assert set(key_ids_in_use()) == {"new"} and set(file_key_ids_in_use()) == {"new"}
    assert "Everything encrypted uses new" in out.getvalue()
    for path, before in files_before.items():
        assert path.read_bytes() != before and crypto.key_id_of(path.read_bytes()) == "new"
        assert CANARY.encode() not in path.read_bytes()

    settings.TESSERA_DATA_KEYS = settings.TESSERA_DATA_KEYS.split(",")[0]  # the old key is gone
    member = Member.objects.get(pk=made["member"].pk)
    assert (member.legal_name, member.notes, member.email, member.phone) == (
        f"{CANARY} legal", f"{CANARY} notes", "rotation@example.org", "+254700111222")
    assert User.objects.get(pk=personas.member.pk).email == personas.member.email
    assert dict(Authenticator.objects.values_list("pk", "key")) == totp_keys
    device = Authenticator.objects.get(user=personas.steward)
    assert device.verify_token(device.current_code())  # the second factor still works
    assert MemberStatusChange.objects.get(member=member, reason__isnull=False).reason == f"{CANARY} reason"
    assert UnionCard.objects.get(pk=made["card"].pk).signed["signature"] == f"{CANARY} sig"
    case = Grievance.objects.get(pk=made["case"].pk)
    assert (case.title, case.narrative) == ("Unpaid overtime", f"{CANARY} narrative")
    assert Event.objects.filter(grievance=case, kind="note").get().body == f"{CANARY} note"
    assert AdverseAction.objects.get(grievance=case).description == f"{CANARY} quota"
    assert LetterRequest.objects.get(facts__isnull=False).facts == f"{CANARY} facts"
    from bargaining.models import Comment

    assert (Comment.objects.get().body, Comment.objects.get().hidden_reason) == (f"{CANARY} comment", f"{CANARY} hidden")
    evidence = Evidence.objects.get(pk=made["evidence"].pk)
    content = evidence_read(actor=personas.steward, evidence=evidence)
    assert content == f"{CANARY} evidence\n".encode() and hashlib.sha256(content).hexdigest() == evidence.sha256
    assert evidence.filename == "log.txt"
    for document in Document.objects.all():  # the letter, the card, the generic one: hashes checked
        assert hashlib.sha256(document_read(document=document, actor_id=None)).hexdigest() == document.sha256
        assert document.custody.filter(action="rekeyed").count() == 1
    assert Document.objects.count() == 3
    assert Letter.objects.get(pk=made["letter"].pk).document.sha256 == made["letter"].sha256

    # A second run finds nothing left to do.
    out = io.StringIO()
    call_command("rotate_data_keys", stdout=out)
    assert "file(s) re-encrypted" not in out.getvalue()


@pytest.mark.django_db
def test_a_missing_file_is_reported_not_hidden(settings: Any) -> None:
    settings.TESSERA_DATA_KEYS = f"old:{new_key()}"
    document = document_store(kind="test.rotation", owner_code="x", content=b"content", actor_id=None)
    (Path(settings.MEDIA_ROOT) / "documents" / f"{document.storage_name}.bin").unlink()
    settings.TESSERA_DATA_KEYS = f"new:{new_key()},{settings.TESSERA_DATA_KEYS}"
    err = io.StringIO()
    call_command("rotate_data_keys", stdout=io.StringIO(), stderr=err)
    assert f"union.Document #{document.pk}" in err.getvalue() and "still use an older key" in err.getvalue()
