"""Bargaining queries that depend on who is looking, filtered in SQL."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from bargaining.models import Campaign, Demand
from grievances.models import Grievance
from grievances.selectors import grievance_list_visible_to
from membership.models import Member, User
from membership.selectors import locals_where, users_with_local_perm


def campaigns_visible_to(user: Any) -> QuerySet[Campaign]:
    """Campaigns the user reads (bargaining/permissions.py): drafters of the local, members of the units."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Campaign.objects.none()
    drafting = locals_where(user, "draft_demands").values("pk")
    member_locals = locals_where(user, "view_local").values("pk")
    units = Member.objects.filter(user=user, erased_at__isnull=True, unit__isnull=False).values("unit_id")
    return Campaign.objects.filter(
        Q(local__in=drafting) | (Q(local__in=member_locals) & Q(units__in=units))
    ).distinct().select_related("local")


def committee_candidates(campaign_local: Any) -> QuerySet[User]:
    """Who may sit on a committee: users holding `draft_demands` in the local now."""
    return users_with_local_perm(campaign_local, "draft_demands").select_related("member")


def linkable_grievances(user: Any, campaign: Campaign) -> QuerySet[Grievance]:
    """Cases of the campaign's local that the editor may see (restricted ones only for who sees them)."""
    return (grievance_list_visible_to(user).filter(local=campaign.local)
            .exclude(status=Grievance.Status.DRAFT).select_related("category").order_by("-created_at"))


def handled_counts_by_category(demand: Demand) -> list[dict[str, Any]]:
    """For each grievance category linked to the demand: how many cases of it the local has handled.

    Counts only (never titles), so every reader of the demand may see them. Drafts are not handled
    cases; open and closed ones are. Two queries whatever the number of cases.
    """
    category_ids = demand.grievances.values("category_id")
    return list(
        Grievance.objects.filter(local=demand.campaign.local, category_id__in=category_ids)
        .exclude(status=Grievance.Status.DRAFT)
        .values("category__name")
        .annotate(cases=Count("pk"), closed=Count("pk", filter=Q(status=Grievance.Status.CLOSED)))
        .order_by("-cases", "category__name")
    )


def category_counts_for_campaign(campaign: Campaign) -> list[dict[str, Any]]:
    """Grievances of the local by category (the appendix of the document): counts only."""
    return list(
        Grievance.objects.filter(local=campaign.local).exclude(status=Grievance.Status.DRAFT)
        .values("category__name").annotate(cases=Count("pk")).order_by("-cases", "category__name")
    )
