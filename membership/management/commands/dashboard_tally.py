"""Recount the organizing dashboard's per-unit tallies from the rows: --check reports, --rebuild fixes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from membership.tally import signatures_check, support_check, tally_check, tally_rebuild


class Command(BaseCommand):
    help = ("Compare the per-unit tallies of signed cards (kept by the services for the organizing dashboard) "
            "with a recount from the rows. --check exits with status 1 when any unit differs (run it daily "
            "and alert); --rebuild stores the recount. Signatures per 15-minute period and support levels are checked too.")

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--check", action="store_true", help="report units whose tally differs; change nothing")
        group.add_argument("--rebuild", action="store_true", help="store the recount for every unit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            changed = tally_rebuild()
            self.stdout.write(f"{changed} tally row(s) corrected (units and signature periods).")
            return
        drift = tally_check()
        for unit_id, (kept, counted) in sorted(drift.items()):
            # Unit ids and counts only: nothing that names a member.
            self.stderr.write(f"unit {unit_id}: tally {kept}, recount {counted}")
        periods = signatures_check()
        for (local_id, period), (kept, counted) in sorted(periods.items()):
            self.stderr.write(f"local {local_id}, signatures at {period:%Y-%m-%d %H:%M} UTC: tally {kept}, "
                              f"recount {counted}")
        support = support_check()
        for (local_id, level_id), (kept, counted) in sorted(support.items()):
            self.stderr.write(f"local {local_id}, support level {level_id}: tally {kept}, recount {counted}")
        if drift or periods or support:
            raise CommandError(f"{len(drift)} unit tally(ies), {len(periods)} signature period(s) and "
                               f"{len(support)} support level(s) differ from the rows; run dashboard_tally --rebuild.")
        self.stdout.write("All unit tallies agree with the rows.")
