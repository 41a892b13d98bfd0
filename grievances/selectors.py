"""Grievance queries that depend on who is looking, filtered in SQL."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from grievances.models import Grievance
from membership.selectors import locals_where, users_with_local_perm


def grievance_list_visible_to(user: Any) -> QuerySet[Grievance]:
    """Every case the user may see (see grievances/permissions.py for the rules)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Grievance.objects.none()
    draft = Grievance.Status.DRAFT
    restricted = Grievance.Confidentiality.RESTRICTED
    officer_locals = locals_where(user, "view_grievances").values("pk")
    restricted_locals = locals_where(user, "view_restricted_grievances").values("pk")
    # An assignment counts only where the steward still works grievances (grievances/permissions.py);
    # a draft filed for someone else likewise stays with its filer only while they do.
    working_locals = locals_where(user, "manage_grievances").values("pk")
    visible = (
        (Q(filed_by=user, status=draft) & (Q(grievant__member__user=user) | Q(local__in=working_locals)))
        | (~Q(status=draft) & (
            (Q(steward=user) & Q(local__in=working_locals))
            | Q(grievant__member__user=user)
            | (Q(local__in=officer_locals) & ~Q(confidentiality=restricted))
            | Q(local__in=restricted_locals)
        ))
    )
    ids = Grievance.objects.filter(visible).values("pk")
    return Grievance.objects.filter(pk__in=ids)


def my_cases(user: Any) -> QuerySet[Grievance]:
    """A steward's open cases, next deadline first."""
    return (
        grievance_list_visible_to(user)
        .filter(steward=user, status=Grievance.Status.OPEN)
        .select_related("category", "step", "unit", "local")
        .order_by("due_date", "number")
    )


def own_cases(user: Any) -> QuerySet[Grievance]:
    """Cases where the user is a grievant, and the drafts they started, newest first."""
    from grievances.models import Grievant

    mine = Grievant.objects.filter(member__user=user).values("grievance")
    draft = Grievance.Status.DRAFT
    return grievance_list_visible_to(user).filter(
        (Q(pk__in=mine) & ~Q(status=draft)) | Q(filed_by=user, status=draft)
    ).order_by("-created_at")



def working_stewards(locals_: Any) -> set[tuple[int, int]]:
    """(local id, user id) of everyone who may work grievances in these locals now: one query per local."""
    return {(local.pk, uid) for local in locals_
            for uid in users_with_local_perm(local, "manage_grievances").values_list("pk", flat=True)}


def needing_steward(cases: QuerySet[Grievance], locals_: Any) -> QuerySet[Grievance]:
    """Open cases of these locals with no steward, or whose steward no longer works grievances there
    (demoted, suspended, lapsed, resigned): the case is stuck until an officer assigns someone."""
    stuck = Q(pk__in=[])
    for local in locals_:
        holders = users_with_local_perm(local, "manage_grievances").values("pk")
        stuck |= Q(local=local) & (Q(steward__isnull=True) | ~Q(steward__in=holders))
    return cases.filter(stuck, status=Grievance.Status.OPEN)
