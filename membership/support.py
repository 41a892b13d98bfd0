"""The union's one-to-five support scale and organizers' assessments of their contacts.

The scale follows the usual organizing convention (1 is the strongest supporter, 5 the strongest
opponent), so "a 1" or "a 4" mean the same thing in a conversation between organizers as here.
Callers check access first (`manage_members` or `verify_members` on the member's local).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_noop, ngettext

from membership.models import Member, SupportAssessment, SupportLevel, Union, User
from membership.tally import tally_tracked
from union.audit import audit_record

# Stored as written (in English) and translated when shown: labels are the union's own words and
# a union may rename them; these defaults are marked for translation with gettext_noop.
DEFAULT_LEVELS = (
    (1, gettext_noop("Leader (moves others to act)")),
    (2, gettext_noop("Supporter")),
    (3, gettext_noop("Undecided")),
    (4, gettext_noop("Opposed")),
    (5, gettext_noop("Hostile (works against the union)")),
)
def level_in_use_message(count: int) -> str:
    # Literal strings inside ngettext(), so that makemessages extracts both forms.
    return ngettext(
        "This level has been used in %(count)s assessment, so it cannot be deleted. Rename it instead.",
        "This level has been used in %(count)s assessments, so it cannot be deleted. Rename it instead.",
        count,
    ) % {"count": count}


ERR_WRONG_UNION = gettext_noop("This level belongs to another union's scale.")
ERR_ERASED = gettext_noop("This member erased their account.")


class SupportError(Exception):
    """A write that must not happen; the message is safe to show to the officer who tried."""


@transaction.atomic
def support_levels_seed_defaults(*, actor: User | None, union: Union) -> list[SupportLevel]:
    """Create the default levels the union does not have yet; existing levels are left as they are."""
    existing = set(SupportLevel.objects.filter(union=union).values_list("value", flat=True))
    created = [
        SupportLevel.objects.create(union=union, value=value, label=label)
        for value, label in DEFAULT_LEVELS
        if value not in existing
    ]
    if created:
        audit_record(actor, "support.levels_seed", union, values=[level.value for level in created])
    return created


@transaction.atomic
def support_level_delete(*, actor: User | None, level: SupportLevel) -> None:
    """Delete a level of the scale, refusing when any assessment used it (history must stay readable)."""
    level = SupportLevel.objects.select_for_update().get(pk=level.pk)
    used = SupportAssessment.objects.filter(level=level).count()
    if used:
        raise SupportError(level_in_use_message(used))
    audit_record(actor, "support.level_delete", level.union, value=level.value)
    level.delete()


@transaction.atomic
def support_assess(*, actor: User, member: Member, level: SupportLevel) -> SupportAssessment:
    """Record an organizer's assessment of a contact; earlier ones stay as history."""
    if level.union_id != member.union_id:
        raise SupportError(ERR_WRONG_UNION)
    if member.erased_at is not None:
        raise SupportError(ERR_ERASED)
    with tally_tracked(member):  # the support summary's tally follows the member's latest level
        assessment = SupportAssessment.objects.create(member=member, level=level, recorded_by=actor)
    audit_record(actor, "support.assess", member, local_id=member.local_id, value=level.value)
    return assessment
