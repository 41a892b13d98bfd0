"""The audit chain: appends, detects edits, insertions and deletions, refuses personal data."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.base import Personas, login_as
from tests.factories import make_user
from union.audit import audit_record, verify_chain
from union.models import AuditEvent


@pytest.fixture
def chain(db: None) -> list[AuditEvent]:
    actor = make_user("auditor")
    return [audit_record(actor, "test.event", actor, n=n) for n in range(5)]


def sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


class TestChain:
    def test_it_links_each_record_to_the_previous(self, chain: list[AuditEvent]) -> None:
        assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
        assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
        assert verify_chain().ok and verify_chain().checked == 5

    def test_it_finds_an_edited_row(self, chain: list[AuditEvent]) -> None:
        sql("UPDATE union_auditevent SET action = %s WHERE seq = 3", ["test.innocent"])
        report = verify_chain()
        assert not report.ok and report.seq == 3 and "edited" in report.problem

    def test_it_finds_edited_details(self, chain: list[AuditEvent]) -> None:
        sql("UPDATE union_auditevent SET details = %s WHERE seq = 2", ['{"n": 99}'])
        assert verify_chain().seq == 2

    def test_it_finds_a_deleted_row(self, chain: list[AuditEvent]) -> None:
        sql("DELETE FROM union_auditevent WHERE seq = 2", [])
        report = verify_chain()
        assert not report.ok and report.seq == 2 and "deleted" in report.problem

    def test_it_finds_deleted_rows_at_the_end(self, chain: list[AuditEvent]) -> None:
        sql("DELETE FROM union_auditevent WHERE seq >= 4", [])
        report = verify_chain()
        assert not report.ok and "end" in report.problem

    def test_it_finds_an_inserted_row(self, chain: list[AuditEvent]) -> None:
        # Shift rows 3..5 up by one and forge a row 3 with a hash computed without the key.
        sql("UPDATE union_auditevent SET seq = seq + 100 WHERE seq >= 3", [])
        sql("UPDATE union_auditevent SET seq = seq - 99 WHERE seq >= 100", [])
        forged = chain[1]
        sql(
            "INSERT INTO union_auditevent (seq, created_at, actor_id, actor_label, action, target_type, target_id,"
            " local_id, details, prev_hash, hash) VALUES (3, %s, NULL, 'system', 'member.verify', '', '', NULL, '{}', %s, %s)",
            [forged.created_at, forged.hash, "f" * 64],
        )
        report = verify_chain()
        assert not report.ok and report.seq == 3

    def test_it_refuses_personal_data_in_details(self, db: None) -> None:
        with pytest.raises(ValueError, match="personal data"):
            audit_record(None, "member.create", None, email="a@example.org")
        assert not AuditEvent.objects.exists()

    def test_the_command_reports_the_break(self, chain: list[AuditEvent], capsys: pytest.CaptureFixture[str]) -> None:
        call_command("audit_verify")
        assert "5 record(s)" in capsys.readouterr().out
        sql("UPDATE union_auditevent SET actor_label = %s WHERE seq = 4", ["someone-else"])
        with pytest.raises(CommandError, match="#4 was edited"):
            call_command("audit_verify")


class TestAuditPage:
    url = reverse("audit_log")

    def test_it_lists_the_local_admins_events(self, client: Client, personas: Personas) -> None:
        audit_record(personas.steward, "test.mine", None, local_id=personas.local.pk)
        audit_record(personas.outsider, "test.theirs", None, local_id=personas.other_local.pk)
        response = login_as(client, personas.local_admin).get(self.url)
        assert response.status_code == 200
        assert b"test.mine" in response.content and b"test.theirs" not in response.content
        assert personas.steward.handle.encode() in response.content  # resolved from actor_id
        assert response["Cache-Control"].startswith("max-age=0")

    @pytest.mark.parametrize("who", ["member", "steward", "organizer", "representative", "outsider"])
    def test_it_is_hidden_from_everyone_else(self, client: Client, personas: Personas, who: str) -> None:
        assert login_as(client, personas.get(who)).get(self.url).status_code == 404

    def test_it_sends_anonymous_visitors_to_login(self, client: Client, personas: Personas) -> None:
        response = client.get(self.url)
        assert response.status_code == 302 and "/account/login/" in response["Location"]

    def test_it_refuses_post(self, client: Client, personas: Personas) -> None:
        assert login_as(client, personas.local_admin).post(self.url).status_code == 405
