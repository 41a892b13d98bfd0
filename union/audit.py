"""The audit log: append-only records chained by a keyed hash, the head's seal, and checkpoints.

What is protected, and how:

- Each record's hash is HMAC-SHA256 (key derived from the blind index key, which lives outside
  the database) over the previous hash and the record's own fields. Editing, inserting or
  deleting a row in the middle breaks the chain at that row, and someone holding only the
  database cannot forge a new chain.
- The last records have no successor to break, so the chain alone cannot show that they were
  deleted. The head row (`AuditChainHead`) names the last record, and it is *sealed*: an HMAC,
  with another key derived from the same outside key, over (last_seq, last_hash). Deleting the
  last N rows and rewinding the head to the new end needs a seal for that end, which only the key
  can make. `verify_chain` also checks that the records run 1..N without a gap and that the head
  names the last one, so the head is checked against the count.
- A checkpoint, written daily by `manage.py audit_checkpoint` to an append-only file outside the
  database (`TESSERA_AUDIT_CHECKPOINT_FILE`) and to the command's output (the journal), records
  (time, seq, hash) under a seal of its own. The chain must still contain every checkpointed
  record with the same hash. That catches what the seal alone cannot: the whole table (head
  included) deleted or truncated, and a head rolled back to an old genuine state copied from a
  backup.

What it cannot detect (also in README.md and deploy/README.md):

- Deleting records written after the last checkpoint, by someone who can also seal a head: the
  key's holder (whoever has the server's environment file), or someone replaying a head row
  copied from an earlier backup of the database. Between two checkpoints, the seal is the only
  anchor, and an old genuine seal is still genuine.
- Rolling back the database and the checkpoint file together (restoring both from the same old
  backup, or an attacker with root on the server who edits both). Keep the file append-only
  (`chattr +a`) and ship the daily checkpoint lines off the machine (the journal to a remote log,
  or the line mailed to officers): a copy elsewhere is what makes a rollback visible.
- Someone with the key rewriting the whole chain consistently after the last checkpoint that they
  cannot also rewrite. With the key and write access to the file too, nothing here helps.
- Actions that were never recorded: the log says what the code recorded, no more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from union import crypto
from union.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
# Detail keys that would carry personal data, secrets or free text; audit_record refuses them so
# that a careless caller fails loudly in tests rather than leaking into a permanent record. A
# reason typed by a person goes to an encrypted field on the object it concerns (for example
# membership.MemberStatusChange.reason) and the audit row names that object by id.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"email", "name", "legal_name", "phone", "password", "narrative", "notes", "note", "token",
     "secret", "address", "ip", "message", "body", "text", "reason", "comment", "description",
     "handle", "pseudonym", "username"}
)


class AuditChainBroken(Exception):
    """The chain failed verification, so a checkpoint must not vouch for it."""

    def __init__(self, report: ChainReport) -> None:
        super().__init__(report.problem)
        self.report = report


def _link_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    key = crypto.derived_key("audit-chain")
    return hmac.new(key, (prev_hash + payload).encode(), hashlib.sha256).hexdigest()


def head_seal(seq: int, last_hash: str) -> str:
    """The head's seal: only the holder of the outside key can name a new end of the chain."""
    key = crypto.derived_key("audit-head")
    return hmac.new(key, f"{seq}:{last_hash}".encode(), hashlib.sha256).hexdigest()


def _checkpoint_seal(at: str, seq: int, last_hash: str) -> str:
    key = crypto.derived_key("audit-checkpoint")
    return hmac.new(key, f"{at}|{seq}|{last_hash}".encode(), hashlib.sha256).hexdigest()


def _fields_of(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "local_id": event.local_id,
        "details": event.details,
    }


@transaction.atomic
def audit_record(
    actor: Any,
    action: str,
    target: models.Model | None = None,
    *,
    local_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one record. `actor` is a user or None (the system); details must be non-personal.

    Details are identifiers, codes and counts. Free text typed by a person (a reason, a comment)
    is refused: it goes to an encrypted field on the object and the detail names that object.
    """
    bad = FORBIDDEN_DETAIL_KEYS.intersection(details)
    if bad:
        raise ValueError(f"audit details must not carry personal data or free text: {sorted(bad)}")
    # The head row is locked for the rest of the transaction: concurrent appenders queue here, so
    # each one reads the head the previous one committed and the chain never forks. (The row is
    # created by a migration; get_or_create only matters after a test flush.)
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        seq=head.last_seq + 1,
        # Stored at microsecond precision and hashed as stored, so re-reading gives the same text.
        created_at=timezone.now(),
        actor_id=actor.pk if is_user else None,
        # Never the handle: it may identify a person, and an erased member's handle must not
        # outlive the erasure in an append-only log. Pages resolve actor_id to today's handle.
        actor_label="user" if is_user else "system",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(getattr(target, "code", None) or getattr(target, "pk", "")) if target is not None else "",
        local_id=local_id,
        details=json.loads(json.dumps(details, default=str)),
        prev_hash=head.last_hash,
    )
    event.hash = _link_hash(event.prev_hash, _fields_of(event))
    event.save()
    head.last_seq, head.last_hash = event.seq, event.hash
    head.seal = head_seal(event.seq, event.hash)
    head.save(update_fields=["last_seq", "last_hash", "seal"])
    return event


# ---------------------------------------------------------------------------------------------
# Checkpoints: (time, seq, hash) lines in an append-only file outside the database.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    at: str
    seq: int
    hash: str
    line: int = 0

    def as_line(self) -> str:
        record = {"at": self.at, "seq": self.seq, "hash": self.hash,
                  "seal": _checkpoint_seal(self.at, self.seq, self.hash)}
        return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


def checkpoint_path() -> Path | None:
    """The configured checkpoint file, or None when checkpoints are not in use."""
    value = str(getattr(settings, "TESSERA_AUDIT_CHECKPOINT_FILE", "") or "").strip()
    return Path(value) if value else None


def read_checkpoints(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """Every genuine checkpoint in the file, and a problem for each line that is not one."""
    if not path.exists():
        return [], [f"the checkpoint file {path} is missing: deleted, or audit_checkpoint was never run"]
    checkpoints: list[Checkpoint] = []
    problems: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                point = Checkpoint(at=str(record["at"]), seq=int(record["seq"]), hash=str(record["hash"]), line=number)
                seal = str(record["seal"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"line {number} of the checkpoint file is unreadable")
                continue
            if not hmac.compare_digest(seal, _checkpoint_seal(point.at, point.seq, point.hash)):
                problems.append(f"line {number} of the checkpoint file is not a genuine checkpoint (bad seal)")
                continue
            checkpoints.append(point)
    return checkpoints, problems


def write_checkpoint(path: Path | None = None, *, create: bool = False) -> Checkpoint:
    """Verify the chain, then append its current end to the checkpoint file.

    Raises AuditChainBroken without writing when the chain does not verify: a checkpoint must
    never vouch for a chain that was already cut. The file must already exist unless `create`
    (the first run, `audit_checkpoint --init`): a daily run that quietly started a new file would
    hide the deletion of the old one. The caller also prints the line, so the journal keeps a
    second copy outside the database and outside the file.
    """
    path = path or checkpoint_path()
    if path is None:
        raise ValueError("TESSERA_AUDIT_CHECKPOINT_FILE is not set")
    report = verify_chain(checkpoint_file=path, require_file=not create)
    if not report.ok:
        raise AuditChainBroken(report)
    head = AuditChainHead.objects.filter(pk=1).first()
    seq, last_hash = (head.last_seq, head.last_hash) if head is not None else (0, GENESIS)
    point = Checkpoint(at=timezone.now().isoformat(), seq=seq, hash=last_hash)
    # O_APPEND: each line lands at the end even if two runs overlap, and the file can carry the
    # append-only attribute (chattr +a), which refuses any write that is not an append.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, point.as_line().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return point


# ---------------------------------------------------------------------------------------------
# Verification.
# ---------------------------------------------------------------------------------------------


@dataclass
class ChainReport:
    ok: bool
    checked: int
    problem: str = ""
    seq: int | None = None
    problems: list[str] = field(default_factory=list)
    last_checkpoint: Checkpoint | None = None
    checkpoint_file: Path | None = None


def verify_chain(*, checkpoint_file: Path | None = None, require_file: bool = True) -> ChainReport:
    """Walk the chain and report what was edited, inserted, deleted or truncated.

    Checks, in order: every record links to the one before with a hash only the key can make
    (edits, insertions, deletions inside the chain); the records run 1..N with no gap; the head is
    sealed and names record N (deleting the last records and rewinding the head); every
    checkpoint in the file is genuine and its record is still in the chain with the same hash
    (the whole table deleted, a head replayed from a backup). `problem` is the first finding and
    `problems` lists them all. Without a checkpoint file (`TESSERA_AUDIT_CHECKPOINT_FILE` unset)
    the last check is skipped; see the module docstring for what that leaves open.
    """
    path = checkpoint_file or checkpoint_path()
    problems: list[tuple[str, int | None]] = []
    checkpoints: list[Checkpoint] = []
    if path is not None and (require_file or path.exists()):
        checkpoints, file_problems = read_checkpoints(path)
        problems.extend((p, None) for p in file_problems)
    # The head is read before the walk. A record and the head move in one transaction, so every
    # record the head names is visible to the walk that follows; records appended meanwhile are
    # beyond the head and are still checked link by link.
    head = AuditChainHead.objects.filter(pk=1).first()
    found, checked, last = _walk(head, checkpoints)
    if head is None and last > 0:
        # No head, yet records. Either the head was deleted, or there was none when it was read
        # (an emptied database: `flush`, or a test's) and the first append created it with its
        # record in one transaction that committed between that read and the walk. A head that
        # exists now was created meanwhile: walk again from it (a head written by anyone but
        # audit_record fails the seal check). A deleted head stays missing and is reported.
        head = AuditChainHead.objects.filter(pk=1).first()
        if head is not None:
            found, checked, last = _walk(head, checkpoints)
    problems.extend(found)
    report = ChainReport(ok=not problems, checked=checked, problems=[p for p, _ in problems],
                         last_checkpoint=max(checkpoints, key=lambda p: p.seq, default=None), checkpoint_file=path)
    if problems:
        report.problem, report.seq = problems[0]
    return report


def _walk(head: AuditChainHead | None, checkpoints: list[Checkpoint]) -> tuple[list[tuple[str, int | None]], int, int]:
    """Walk the records against `head` (read before): the findings, the records checked, the last seq."""
    wanted = {point.seq: point for point in checkpoints}
    problems: list[tuple[str, int | None]] = []
    head_hash_seen: str | None = GENESIS if head is not None and head.last_seq == 0 else None
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    broken = False
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            problems.append((f"record #{expected_seq} is missing (next is #{event.seq}): deleted", expected_seq))
            broken = True
            break
        if event.prev_hash != prev_hash:
            problems.append((f"record #{event.seq} does not follow #{event.seq - 1}: inserted or reordered",
                             event.seq))
            broken = True
            break
        if _link_hash(prev_hash, _fields_of(event)) != event.hash:
            problems.append((f"record #{event.seq} was edited or forged (its hash does not match)", event.seq))
            broken = True
            break
        point = wanted.get(event.seq)
        if point is not None and point.hash != event.hash:
            problems.append((f"record #{event.seq} is not the one checkpointed at {point.at}: the log was rewritten",
                             event.seq))
        if head is not None and event.seq == head.last_seq:
            head_hash_seen = event.hash
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    last = expected_seq - 1
    if not broken:
        if head is None:
            if last > 0:
                problems.append((f"the chain head is missing while the log holds {last} record(s): deleted", None))
        else:
            if not hmac.compare_digest(head.seal, head_seal(head.last_seq, head.last_hash)):
                problems.append((f"the chain head (#{head.last_seq}) is not sealed by the audit key: "
                                 "it was rewound or edited, records were probably deleted at the end", head.last_seq))
            if last < head.last_seq:
                problems.append((f"the chain ends at #{last} but #{head.last_seq} was written: "
                                 "records deleted at the end", last + 1))
            elif head_hash_seen != head.last_hash:
                problems.append((f"record #{head.last_seq} is not the one the chain head names: rewritten",
                                 head.last_seq))
        for point in checkpoints:
            if point.seq > last:
                problems.append((f"record #{point.seq}, checkpointed at {point.at}, is missing: the log ends at "
                                 f"#{last}, records were deleted at the end (truncation)", point.seq))
                break
    return problems, checked, last
