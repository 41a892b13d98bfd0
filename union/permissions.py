"""Access rules of the shared pages (the audit log)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from membership.selectors import locals_where
from union.models import AuditEvent


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    """Platform staff see every event; local admins the events of their locals; others nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return AuditEvent.objects.none()
    if user.is_staff:
        return AuditEvent.objects.all()
    local_ids = list(locals_where(user, "view_audit").values_list("pk", flat=True))
    if not local_ids:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(Q(local_id__in=local_ids))


def can_view_audit(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and (
        user.is_staff or locals_where(user, "view_audit").exists()
    )
