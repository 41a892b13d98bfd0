"""Importing and exporting the roll. Callers check access first (permissions.py)."""

from __future__ import annotations

from typing import cast

from django.db import models, transaction
from django.utils.translation import gettext_lazy

from membership.models import (
    Local,
    Member,
    UnitHistory,
    User,
)
from membership.services.errors import MembershipError
from union.audit import audit_record

ERR_IMPORT_REJECTED = gettext_lazy("Some rows were rejected; nothing was imported.")


ERR_IMPORT_CLASH = gettext_lazy("Someone with one of these emails or phones joined meanwhile; nothing was imported.")


@transaction.atomic
def roll_import(*, actor: User, local: Local, rows: list, valid_only: bool = False) -> list[Member]:
    """Create members without accounts from checked import rows (`membership.roll.ImportRow`).

    All or nothing: any rejected row raises MembershipError unless `valid_only`, and a unique
    index clash (someone joined between the preview and now) rolls everything back. The audit
    record holds counts only. The caller checked `manage_members` on `local`.
    """
    from datetime import date

    from django.db import IntegrityError

    from membership.names import pseudonym_key

    rejected = [r for r in rows if r.errors]
    if rejected and not valid_only:
        raise MembershipError(ERR_IMPORT_REJECTED)
    members = []
    for row in rows:
        if row.errors:
            continue
        member = Member(
            union_id=local.union_id, local=local, unit=row.unit, pseudonym=row.pseudonym,
            legal_name=row.legal_name or None, job_title=row.job_title, status=row.status, dues=row.dues,
            dues_last_paid=date.fromisoformat(row.dues_last_paid) if row.dues_last_paid else None,
        )
        member.set_email(row.email)
        member.set_phone(row.phone)
        member.set_languages(row.languages)
        member.pseudonym_key = pseudonym_key(row.pseudonym)  # bulk_create does not call save()
        members.append(member)
    try:
        with transaction.atomic():
            Member.objects.bulk_create(members, batch_size=1000)
    except IntegrityError:
        raise MembershipError(ERR_IMPORT_CLASH) from None
    # Primary keys come back from bulk_create on PostgreSQL and SQLite (3.35+).
    UnitHistory.objects.bulk_create(
        [UnitHistory(member=m, unit=m.unit) for m in members if m.unit is not None], batch_size=1000
    )
    audit_record(actor, "roll.import", local, local_id=local.pk, imported=len(members), skipped=len(rejected))
    return members


def roll_export_record(*, actor: User, local: Local, rows: int, alert_rows: int) -> bool:
    """Audit an export of the roll; above `alert_rows` rows, alert the local's admins too.

    Returns whether the admins were alerted. Admins are whoever holds manage_roles or view_audit
    on the local; the alert says how many rows and who, never whose data.
    """
    from django.urls import reverse
    from django.utils import translation
    from django.utils.translation import ngettext
    from guardian.shortcuts import get_users_with_perms

    from union.realtime import notify_users

    large = rows > alert_rows
    audit_record(actor, "roll.export", local, local_id=local.pk, rows=rows, large=large)
    if not large:
        return False
    # guardian annotates the result as `Any | list[str]`; without attach_perms it is a queryset of users.
    holders = cast("models.QuerySet[User]", get_users_with_perms(
        local, only_with_perms_in=["manage_roles", "view_audit"], with_group_users=False))
    admins = [u for u in holders if u.is_active]
    texts = {}
    for admin in admins:
        with translation.override(admin.language or "en"):
            texts[admin.pk] = ngettext("%(who)s exported %(rows)s row of the roll. Check the audit log.",
                                       "%(who)s exported %(rows)s rows of the roll. Check the audit log.", rows) % {
                "who": actor.get_username(), "rows": rows}
    notify_users(texts, kind="roll.export", text=texts, url=reverse("audit_log"))
    audit_record(actor, "roll.export_alert", local, local_id=local.pk, rows=rows, alerted=len(admins))
    return True
