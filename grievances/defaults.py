"""The categories and workflow steps every union starts with; each union may change its own."""

from __future__ import annotations

from django.utils.translation import gettext_noop as _

from grievances.models import Category, Step
from membership.models import Union

# slug, name, description, is_retaliation, is_health
CATEGORIES = (
    ("contract", _("Contract violation"), "", False, False),
    ("pay", _("Pay"), _("Unpaid hours, clawbacks, wage theft"), False, False),
    ("health", _("Health and safety"), _("Including psychological harm from exposure to content"), False, True),
    ("workload", _("Workload and quotas"), "", False, False),
    ("deactivation", _("Account deactivation or task rejection"), "", False, False),
    ("discrimination", _("Discrimination and harassment"), "", False, False),
    ("retaliation", _("Retaliation for union activity"), "", True, False),
    ("other", _("Other"), "", False, False),
)
# slug, name, deadline days, kind
STEPS = (
    ("intake", _("Intake"), 5, Step.DayKind.WORKING),
    ("investigation", _("Investigation"), 10, Step.DayKind.WORKING),
    ("step-1", _("Step 1"), 10, Step.DayKind.WORKING),
    ("step-2", _("Step 2"), 10, Step.DayKind.WORKING),
    ("step-3", _("Step 3"), 15, Step.DayKind.WORKING),
    ("arbitration", _("Arbitration"), 30, Step.DayKind.CALENDAR),
)


def ensure_defaults(union: Union) -> None:
    """Create the default categories and steps of a union where they are missing. Idempotent."""
    for position, (slug, name, description, retaliation, health) in enumerate(CATEGORIES):
        Category.objects.get_or_create(
            union=union, slug=slug,
            defaults={"name": name, "description": description, "position": position,
                      "is_retaliation": retaliation, "is_health": health},
        )
    for position, (slug, name, days, kind) in enumerate(STEPS):
        Step.objects.get_or_create(
            union=union, slug=slug, defaults={"name": name, "position": position, "deadline_days": days, "day_kind": kind}
        )
