"""The migration that moves reasons already in the audit log onto the objects, and re-seals it."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from membership.models import Member, MemberStatusChange, User
from tests.base import Personas
from union.audit import audit_record, verify_chain
from union.models import AuditChainHead, AuditEvent

migration = importlib.import_module("membership.migrations.0005_move_audit_reasons_to_objects")
REASON = "Wanjiru Kamau works for the vendor's HR"


@pytest.fixture
def legacy_log(personas: Personas, monkeypatch: pytest.MonkeyPatch) -> Member:
    """A log as today's main writes it: reasons in clear in the details (the guard lifted to write it)."""
    member = Member.objects.get(user=personas.member)
    audit_record(personas.organizer, "test.before", None)
    with monkeypatch.context() as patched:
        patched.setattr("union.audit.FORBIDDEN_DETAIL_KEYS", frozenset())
        audit_record(personas.organizer, "member.status", member, local_id=member.local_id,
                     **{"from": "active", "to": "suspended"}, reason=REASON)
        audit_record(None, "user.deactivate", personas.outsider, reason="asked by Wanjiru")
        audit_record(None, "user.sessions_ended", personas.outsider, reason="deactivated")
    audit_record(personas.organizer, "test.after", None)
    assert verify_chain().ok
    return member


def test_it_moves_the_reasons_and_keeps_a_verifiable_chain(legacy_log: Member, personas: Personas) -> None:
    migration.move_reasons(apps, None)

    report = verify_chain()
    assert report.ok, report.problems
    assert "Wanjiru" not in str(list(AuditEvent.objects.values_list("details", flat=True)))
    status = AuditEvent.objects.get(action="member.status")
    change = MemberStatusChange.objects.get(pk=status.details["change"])
    assert (change.member, change.from_status, change.to_status, change.reason, change.changed_by) == (
        legacy_log, "active", "suspended", REASON, personas.organizer)
    assert User.objects.get(pk=personas.outsider.pk).deactivation_reason == "asked by Wanjiru"
    assert AuditEvent.objects.get(action="user.sessions_ended").details == {"cause": "deactivated"}
    note = AuditEvent.objects.order_by("-seq").first()
    assert note is not None
    assert note.action == "audit.reasons_moved" and note.details == {"rows": 3, "rehashed_from": status.seq}
    assert AuditChainHead.objects.get(pk=1).last_seq == note.seq
    migration.move_reasons(apps, None)  # a second run finds nothing to move
    assert AuditEvent.objects.filter(action="audit.reasons_moved").count() == 1


def test_it_refuses_to_reseal_a_broken_chain(legacy_log: Member) -> None:
    edited = AuditEvent.objects.get(action="test.before").seq
    with connection.cursor() as cursor:
        cursor.execute("UPDATE union_auditevent SET action = 'test.innocent' WHERE action = 'test.before'")
    before = list(AuditEvent.objects.order_by("seq").values_list("hash", "details"))
    with pytest.raises(RuntimeError, match=f"broken at record #{edited};"):
        migration.move_reasons(apps, None)
    assert list(AuditEvent.objects.order_by("seq").values_list("hash", "details")) == before
    assert not MemberStatusChange.objects.exists()
