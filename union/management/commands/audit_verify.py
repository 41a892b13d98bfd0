"""Check the audit chain: edited, inserted or deleted records, a rewound head, checkpoints.

Exits with status 1 and names every problem found (the first one in the error line). What the
check cannot detect is listed in union/audit.py and README.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from union.audit import verify_chain


class Command(BaseCommand):
    help = ("Verify the audit log: the hash chain, the sealed head and the checkpoints in "
            "TESSERA_AUDIT_CHECKPOINT_FILE. Exits with status 1 when anything was changed or removed.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            for problem in report.problems[1:]:
                self.stderr.write(f"also: {problem}")
            raise CommandError(f"Audit chain broken after {report.checked} good record(s): {report.problem}")
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} record(s) verified."))
        if report.checkpoint_file is None:
            self.stderr.write("No checkpoint file (TESSERA_AUDIT_CHECKPOINT_FILE is not set): emptying the whole "
                              "audit log (records and head together), or cutting its end and replaying a head row "
                              "from an old backup, would not be detected.")
        elif report.last_checkpoint is not None:
            point = report.last_checkpoint
            self.stdout.write(f"Latest checkpoint: record #{point.seq} at {point.at}.")
