"""Demo grievances for the demo union (development only). Idempotent: cases are found by title."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from grievances.defaults import ensure_defaults
from grievances.models import Category, Grievance, Step
from grievances.services import (
    adverse_action_add,
    event_add,
    grievance_advance,
    grievance_assign,
    grievance_close,
    grievance_create,
    grievance_submit,
)
from membership.models import Local, Member, User


class Command(BaseCommand):
    help = "Create a few demo grievances in the demo union's Nairobi local (refused in production)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo_grievances refuses to run in production.")
        local = Local.objects.filter(union__slug="dwu", slug="nairobi").select_related("union").first()
        if local is None:
            raise CommandError("Run `manage.py seed_demo` first.")
        ensure_defaults(local.union)
        people = {u.handle: u for u in User.objects.filter(handle__in=["amani", "wanjiru", "otieno", "neema"])}
        with transaction.atomic():
            created = sum(self.case(local, people, spec) for spec in self.specs())
        self.stdout.write(f"Demo grievances ready ({created} new).")

    def specs(self) -> list[dict[str, Any]]:
        return [
            {"title": "Exposure to graphic violence without breaks", "category": "health", "grievants": ["amani"],
             "sensitive": True, "narrative": "Since the new queue started we review violent videos for the whole "
             "shift. The wellness breaks in the contract are refused when the queue is long.",
             "remedy": "Wellness breaks as agreed; counselling paid by the employer.", "article": "Art. 14.2",
             "steps": ["investigation"], "note": "Meeting with the site manager on Thursday."},
            {"title": "Pay clawed back for rejected tasks", "category": "pay", "grievants": ["amani", "neema"],
             "narrative": "Pay for tasks later rejected by the client was taken back from the monthly salary.",
             "remedy": "Repay every deduction since March.", "article": "Art. 7", "steps": ["investigation", "step-1"],
             "due_in": 2},
            {"title": "Account deactivated after the union meeting", "category": "retaliation", "grievants": ["neema"],
             "narrative": "Two days after speaking at the union meeting the account was deactivated without warning.",
             "remedy": "Reinstatement and back pay.", "restricted": True, "adverse": "deactivation"},
            {"title": "Unpaid overtime on the night shift", "category": "pay", "grievants": ["amani"],
             "narrative": "Forty minutes of handover each night were not paid.", "remedy": "Back pay.",
             "settled": Decimal("18500.00")},
        ]

    def case(self, local: Local, people: dict[str, User], spec: dict[str, Any]) -> int:
        # Titles are encrypted, so the database cannot compare them: read this local's few cases.
        if any(g.title == spec["title"] for g in Grievance.objects.filter(local=local).only("title")):
            return 0
        steward, admin = people["wanjiru"], people["otieno"]
        members = list(Member.objects.filter(user__handle__in=spec["grievants"]))
        case = grievance_create(
            actor=steward, local=local, category=Category.objects.get(union=local.union, slug=spec["category"]),
            grievants=members, title=spec["title"], narrative=spec["narrative"], remedy=spec["remedy"],
            unit=members[0].unit, incident_date=timezone.localdate() - timedelta(days=20),
            contract_article=spec.get("article", ""), sensitive=spec.get("sensitive", False),
            confidentiality=Grievance.Confidentiality.RESTRICTED if spec.get("restricted") else
            Grievance.Confidentiality.NORMAL,
        )
        case = grievance_submit(actor=steward, grievance=case)
        case = grievance_assign(actor=admin, grievance=case, steward=steward)
        for slug in spec.get("steps", []):
            case = grievance_advance(actor=steward, grievance=case, step=Step.objects.get(union=local.union, slug=slug))
        if "due_in" in spec:
            Grievance.objects.filter(pk=case.pk).update(due_date=timezone.localdate() + timedelta(days=spec["due_in"]))
        if "note" in spec:
            event_add(actor=steward, grievance=case, kind="shared_note", body=spec["note"])
            event_add(actor=steward, grievance=case, kind="note", body="Ask the other moderators on the queue to testify.")
        if "adverse" in spec:
            adverse_action_add(actor=steward, grievance=case, kind=spec["adverse"],
                               occurred_on=timezone.localdate() - timedelta(days=18))
        if "settled" in spec:
            grievance_close(actor=steward, grievance=case, outcome="settled", amount=spec["settled"],
                            summary="The employer paid the handover time for six months.")
        return 1
