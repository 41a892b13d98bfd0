"""Verify the audit chain, then append its end (time, seq, hash, seal) to the checkpoint file.

Run once with --init after installing (creates the file), then daily
(deploy/tessera-audit-checkpoint.timer). The line is also printed, so the journal holds
a second copy outside the database; ship it off the machine for a third. Exits with status 1,
writing nothing, when the chain does not verify.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from union.audit import AuditChainBroken, checkpoint_path, write_checkpoint


class Command(BaseCommand):
    help = "Append the audit chain's current end to TESSERA_AUDIT_CHECKPOINT_FILE, after verifying the chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--init", action="store_true",
                            help="create the checkpoint file (first run only; later runs need it to exist)")

    def handle(self, *args: Any, init: bool = False, **options: Any) -> None:
        path = checkpoint_path()
        if path is None:
            raise CommandError("TESSERA_AUDIT_CHECKPOINT_FILE is not set: there is nowhere to write the checkpoint.")
        try:
            point = write_checkpoint(path, create=init)
        except AuditChainBroken as broken:
            raise CommandError(f"Not checkpointed, the audit chain is broken: {broken.report.problem}") from None
        except OSError as error:
            raise CommandError(f"Cannot append to {path}: {error.strerror}") from None
        self.stdout.write(f"audit checkpoint: {point.as_line().strip()}")
