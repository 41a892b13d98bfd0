"""The audit chain: appends, detects edits, insertions, deletions and truncation, refuses personal data."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from membership.models import Member
from tests.base import Personas, login_as
from tests.factories import make_user
from tests.services import need
from union.audit import AuditChainBroken, audit_record, head_seal, verify_chain, write_checkpoint
from union.models import AuditChainHead, AuditEvent


@pytest.fixture
def chain(db: None) -> list[AuditEvent]:
    actor = make_user("auditor")
    return [audit_record(actor, "test.event", actor, n=n) for n in range(5)]


def sql(statement: str, params: list[Any]) -> None:
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

    @pytest.mark.parametrize("key", ["reason", "handle", "pseudonym", "comment"])
    def test_it_refuses_free_text_and_names_in_details(self, db: None, key: str) -> None:
        # Typed reasons go to an encrypted field on the object; the audit row only names it.
        details: dict[str, Any] = {key: "Wanjiru Kamau is a manager's cousin"}
        with pytest.raises(ValueError, match="free text"):
            audit_record(None, "member.status", None, **details)
        assert not AuditEvent.objects.exists()

    def test_the_command_reports_the_break(self, chain: list[AuditEvent], capsys: pytest.CaptureFixture[str]) -> None:
        call_command("audit_verify")
        assert "5 record(s)" in capsys.readouterr().out
        sql("UPDATE union_auditevent SET actor_label = %s WHERE seq = 4", ["someone-else"])
        with pytest.raises(CommandError, match="#4 was edited"):
            call_command("audit_verify")


def rewind_head_to(seq: int, *, seal: str | None = None) -> None:
    """What an attacker holding the database does after deleting the last rows: point the head
    at the new last row. Without the key they can only copy the old seal or make one up."""
    row = AuditEvent.objects.get(seq=seq)
    head = AuditChainHead.objects.get(pk=1)
    sql("UPDATE union_auditchainhead SET last_seq = %s, last_hash = %s, seal = %s WHERE id = 1",
        [seq, row.hash, seal if seal is not None else head.seal])


@pytest.fixture
def checkpoint_file(settings: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "audit-checkpoints.jsonl"
    settings.TESSERA_AUDIT_CHECKPOINT_FILE = str(path)  # type: ignore[attr-defined]
    return path


def truncate_events() -> None:
    """Literally truncate the audit table (SQLite has no TRUNCATE: DELETE without WHERE is its form)."""
    sql("TRUNCATE union_auditevent" if connection.vendor == "postgresql" else "DELETE FROM union_auditevent", [])


class TestTruncation:
    """The head is sealed with a key outside the database, and checkpoints live outside it too."""

    def test_an_honest_chain_passes_with_its_checkpoints(self, chain: list[AuditEvent], checkpoint_file: Path) -> None:
        first = write_checkpoint(create=True)
        actor = make_user("auditor2")
        audit_record(actor, "test.later", None)
        second = write_checkpoint()
        audit_record(actor, "test.after_the_checkpoint", None)
        report = verify_chain()
        assert report.ok, report.problems
        assert report.checked == 7 and (first.seq, second.seq) == (5, 6)
        assert report.last_checkpoint is not None and report.last_checkpoint.seq == 6

    def test_the_head_is_sealed_by_every_append(self, chain: list[AuditEvent]) -> None:
        head = AuditChainHead.objects.get(pk=1)
        assert (head.last_seq, head.last_hash) == (5, chain[-1].hash)
        assert head.seal == head_seal(5, chain[-1].hash) and head.seal not in {e.hash for e in chain}

    def test_deleting_the_last_rows_and_rewinding_the_head_is_detected(self, chain: list[AuditEvent]) -> None:
        sql("DELETE FROM union_auditevent WHERE seq >= 4", [])
        rewind_head_to(3)
        report = verify_chain()
        assert not report.ok and "not sealed" in report.problem and report.seq == 3

    def test_a_made_up_seal_does_not_help(self, chain: list[AuditEvent]) -> None:
        sql("DELETE FROM union_auditevent WHERE seq >= 4", [])
        rewind_head_to(3, seal=head_seal(3, chain[2].hash).replace("a", "b").replace("1", "2"))
        assert "not sealed" in verify_chain().problem

    def test_a_head_replayed_from_a_backup_is_caught_by_the_checkpoint(
        self, chain: list[AuditEvent], checkpoint_file: Path
    ) -> None:
        # The attacker kept a copy of the head row from when it stood at #3 (an old backup): its
        # seal is genuine. Only the checkpoint written at #5 shows that #4 and #5 existed.
        old_seal = head_seal(3, chain[2].hash)
        write_checkpoint(create=True)
        sql("DELETE FROM union_auditevent WHERE seq >= 4", [])
        rewind_head_to(3, seal=old_seal)
        report = verify_chain()
        assert not report.ok and "record #5, checkpointed at" in report.problem and "truncation" in report.problem

    def test_without_a_later_checkpoint_a_replayed_head_is_not_detected(self, chain: list[AuditEvent]) -> None:
        # Documented limit (union/audit.py, README): between checkpoints, a genuine old seal passes.
        old_seal = head_seal(3, chain[2].hash)
        sql("DELETE FROM union_auditevent WHERE seq >= 4", [])
        rewind_head_to(3, seal=old_seal)
        assert verify_chain().ok

    def test_truncating_the_audit_table_is_detected(self, chain: list[AuditEvent]) -> None:
        truncate_events()
        report = verify_chain()
        assert not report.ok and "the chain ends at #0 but #5 was written" in report.problem

    def test_truncating_the_table_and_the_head_is_detected_by_the_checkpoint(
        self, chain: list[AuditEvent], checkpoint_file: Path
    ) -> None:
        write_checkpoint(create=True)
        truncate_events()
        sql("DELETE FROM union_auditchainhead", [])
        report = verify_chain()
        assert not report.ok and "record #5, checkpointed at" in report.problem

    def test_deleting_every_row_but_the_head_is_detected(self, chain: list[AuditEvent]) -> None:
        sql("DELETE FROM union_auditevent", [])
        assert "#5 was written" in verify_chain().problem

    def test_deleting_the_head_alone_is_detected(self, chain: list[AuditEvent]) -> None:
        sql("DELETE FROM union_auditchainhead", [])
        assert "head is missing" in verify_chain().problem

    def test_a_row_appended_without_the_key_is_detected(self, chain: list[AuditEvent]) -> None:
        sql("INSERT INTO union_auditevent (seq, created_at, actor_id, actor_label, action, target_type, target_id,"
            " local_id, details, prev_hash, hash) VALUES (6, %s, NULL, 'system', 'member.verify', '', '', NULL, '{}',"
            " %s, %s)", [chain[-1].created_at, chain[-1].hash, "e" * 64])
        sql("UPDATE union_auditchainhead SET last_seq = 6, last_hash = %s WHERE id = 1", ["e" * 64])
        report = verify_chain()
        assert not report.ok and report.seq == 6 and "forged" in report.problem

    def test_an_edited_row_is_detected_with_checkpoints_too(self, chain: list[AuditEvent], checkpoint_file: Path) -> None:
        write_checkpoint(create=True)
        sql("UPDATE union_auditevent SET local_id = 99 WHERE seq = 2", [])
        report = verify_chain()
        assert not report.ok and report.seq == 2 and "edited" in report.problem

    def test_a_forged_checkpoint_line_is_reported(self, chain: list[AuditEvent], checkpoint_file: Path) -> None:
        write_checkpoint(create=True)
        line = json.loads(checkpoint_file.read_text())
        line["seq"] = 2  # moved back, to hide a later truncation
        checkpoint_file.write_text(json.dumps(line) + "\n")
        report = verify_chain()
        assert not report.ok and "line 1 of the checkpoint file is not a genuine checkpoint" in report.problem

    def test_a_deleted_checkpoint_file_is_reported(self, chain: list[AuditEvent], checkpoint_file: Path) -> None:
        write_checkpoint(create=True)
        checkpoint_file.unlink()
        assert "checkpoint file" in verify_chain().problem and "missing" in verify_chain().problem
        # ...and the daily run does not quietly start a new file over the deleted one.
        with pytest.raises(AuditChainBroken, match="missing"):
            write_checkpoint()
        assert not checkpoint_file.exists()


class TestCheckpointCommand:
    def test_it_appends_a_sealed_line_and_prints_it(
        self, chain: list[AuditEvent], checkpoint_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        call_command("audit_checkpoint", "--init")
        call_command("audit_checkpoint")
        lines = checkpoint_file.read_text().splitlines()
        assert len(lines) == 2 and json.loads(lines[0])["seq"] == 5 and json.loads(lines[0])["hash"] == chain[-1].hash
        assert set(json.loads(lines[0])) == {"at", "seq", "hash", "seal"}
        assert checkpoint_file.stat().st_mode & 0o077 == 0
        out = capsys.readouterr().out
        assert out.count("audit checkpoint: ") == 2 and lines[1] in out
        call_command("audit_verify")
        assert "Latest checkpoint: record #5" in capsys.readouterr().out

    def test_it_refuses_to_vouch_for_a_broken_chain(self, chain: list[AuditEvent], checkpoint_file: Path) -> None:
        sql("DELETE FROM union_auditevent WHERE seq >= 4", [])
        rewind_head_to(3)
        with pytest.raises(CommandError, match="Not checkpointed.*not sealed"):
            call_command("audit_checkpoint", "--init")
        assert not checkpoint_file.exists()

    def test_it_needs_a_file(self, chain: list[AuditEvent], settings: pytest.FixtureRequest) -> None:
        settings.TESSERA_AUDIT_CHECKPOINT_FILE = ""  # type: ignore[attr-defined]
        with pytest.raises(CommandError, match="TESSERA_AUDIT_CHECKPOINT_FILE is not set"):
            call_command("audit_checkpoint")

    def test_verify_names_the_truncation(self, chain: list[AuditEvent], checkpoint_file: Path) -> None:
        call_command("audit_checkpoint", "--init")
        truncate_events()
        sql("DELETE FROM union_auditchainhead", [])
        with pytest.raises(CommandError, match=r"record #5, checkpointed at .*\(truncation\)"):
            call_command("audit_verify")

    def test_verify_warns_when_no_file_is_configured(
        self, chain: list[AuditEvent], capsys: pytest.CaptureFixture[str]
    ) -> None:
        call_command("audit_verify")
        assert "TESSERA_AUDIT_CHECKPOINT_FILE is not set" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain() -> None:
    """Appends from many transactions at once queue on the locked head row."""
    # SQLite's in-memory test database is one shared-cache connection set that answers "table is
    # locked" to concurrent writers instead of queueing them; row locks are PostgreSQL's behaviour.
    need(connection.vendor == "postgresql", "concurrent appends need PostgreSQL (set DATABASE_URL)")
    actor = make_user("auditor")
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def append(worker: int) -> None:
        try:
            start.wait()
            for n in range(10):
                audit_record(actor, "test.concurrent", None, worker=worker, n=n)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread and asserted empty
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    # A verifier running meanwhile must never mistake records committed during its walk for a
    # tampered end (the head is read before the walk; later records are checked link by link).
    findings: list[str] = []
    done = threading.Event()

    def verify_meanwhile() -> None:
        try:
            start.wait()
            while not done.is_set():
                report = verify_chain()
                if not report.ok:
                    findings.extend(report.problems)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(w,)) for w in range(5)]
    verifier = threading.Thread(target=verify_meanwhile)
    for thread in [*threads, verifier]:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    verifier.join(timeout=60)
    assert errors == [] and findings == []
    report = verify_chain()
    assert report.ok, report.problems
    assert report.checked == 50 and AuditChainHead.objects.get(pk=1).last_seq == 50



@pytest.mark.django_db(transaction=True)
def test_verify_during_the_first_append_into_an_empty_log() -> None:
    """After a flush there is no head row until the first append creates it with its record.

    If that append commits between verify_chain's read of the head and its walk, the walk finds a
    record with no head: the verifier must look again rather than report a deleted head. (This
    is what made test_concurrent_appends_keep_one_chain fail after any transactional test.)
    """
    need(connection.vendor == "postgresql", "a commit between two queries of another thread needs PostgreSQL")
    AuditChainHead.objects.all().delete()  # what a flush leaves: no head, no records
    assert not AuditEvent.objects.exists()
    actor = make_user("auditor")
    errors: list[BaseException] = []

    def first_append() -> None:
        try:
            audit_record(actor, "test.first", None)
        except BaseException as error:  # noqa: BLE001 - asserted empty in the main thread
            errors.append(error)
        finally:
            connection.close()

    def commit_an_append_after_the_head_read(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        # A real query runs; only then, before verify_chain's next query, another connection
        # commits the first append (head row and record together).
        result = execute(sql, params, many, context)
        if "union_auditchainhead" in sql and not appended:
            appended.append(True)
            thread = threading.Thread(target=first_append)
            thread.start()
            thread.join(timeout=30)
        return result

    appended: list[bool] = []
    with connection.execute_wrapper(commit_an_append_after_the_head_read):
        report = verify_chain()
    assert appended and errors == []
    assert report.ok, report.problems
    assert report.checked == 1 and AuditChainHead.objects.get(pk=1).last_seq == 1

    # A head deleted for real is still reported, with or without an append racing the read.
    AuditChainHead.objects.all().delete()
    report = verify_chain()
    assert not report.ok and "head is missing while the log holds 1 record" in report.problem


class TestAuditPage:
    url = reverse("audit_log")

    def test_it_lists_the_local_admins_events(self, client: Client, personas: Personas) -> None:
        audit_record(personas.steward, "test.mine", None, local_id=personas.local.pk)
        audit_record(personas.outsider, "test.theirs", None, local_id=personas.other_local.pk)
        response = login_as(client, personas.local_admin).get(self.url)
        assert response.status_code == 200
        assert b"test.mine" in response.content and b"test.theirs" not in response.content
        # resolved from actor_id, to the pseudonym: the login name is not for this page
        assert Member.objects.get(user=personas.steward).pseudonym.encode() in response.content
        assert response["Cache-Control"].startswith("max-age=0")

    @pytest.mark.parametrize("who", ["member", "steward", "organizer", "representative", "outsider"])
    def test_it_is_hidden_from_everyone_else(self, client: Client, personas: Personas, who: str) -> None:
        assert login_as(client, personas.get(who)).get(self.url).status_code == 404

    def test_it_sends_anonymous_visitors_to_login(self, client: Client, personas: Personas) -> None:
        response = client.get(self.url)
        assert response.status_code == 302 and "/account/login/" in response["Location"]

    def test_it_refuses_post(self, client: Client, personas: Personas) -> None:
        assert login_as(client, personas.local_admin).post(self.url).status_code == 405
