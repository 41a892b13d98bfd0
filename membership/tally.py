"""Per-unit tally of valid signed cards for the organizing dashboard, kept in step by the services.

Counting 60,000 cards at every dashboard view took 143 ms at 100,000 members; reading one row per
unit takes well under a millisecond. The price is that every service that changes whether a member
counts (a card signed or revoked, a status change, a unit change, an erasure) runs inside
`tally_tracked(member)`: it locks the member row, notes in which unit the member counts before the
change, and after it moves the member's 1 between units with an atomic SQL increment, in the
same transaction. Deriving the delta from a recount of the one member (rather than from what the
service believes it did) keeps the tally right whatever path inside the service changed what.

Writes that bypass the services (bulk_create in seed_demo or a benchmark, the admin, raw SQL)
must call `tally_rebuild`; `manage.py dashboard_tally --check` recounts from the rows and reports
any unit whose tally differs (a deploy timer runs it daily).
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef

from membership.models import (
    BargainingUnit,
    Local,
    Member,
    SignatureTally,
    SupportAssessment,
    SupportTally,
    UnionCard,
    UnitTally,
)
from union.models import AuditChainHead

PERIOD_MINUTES = 15

# Members whose signed card counts toward recognition: verified, or waiting for verification.
COUNTING_STATUSES = (Member.Status.ACTIVE, Member.Status.PENDING)

# Members already tracked by an outer `tally_tracked` in this context: an inner service call
# (card_sign calling _set_status, erase calling both) must not count the same change twice.
_tracked: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("tally_tracked", default=frozenset())


def _counting_members():  # type: ignore[no-untyped-def]
    valid_card = UnionCard.objects.filter(member=OuterRef("pk"), revoked_at__isnull=True)
    return Member.objects.filter(status__in=COUNTING_STATUSES, erased_at__isnull=True, unit__isnull=False).filter(
        Exists(valid_card))


def counted_unit(member_id: int) -> int | None:
    """The unit in which this member counts now (None: they count nowhere)."""
    return _counting_members().filter(pk=member_id).values_list("unit_id", flat=True).first()


def _adjust(unit_id: int, delta: int) -> None:
    # One atomic statement: concurrent transactions touching the same unit serialise on its row,
    # and the first change of a unit creates the row without a race (PostgreSQL and SQLite 3.24+).
    table = connection.ops.quote_name(UnitTally._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (unit_id, signed) VALUES (%s, %s) "  # noqa: S608 (table name from the model)
            f"ON CONFLICT (unit_id) DO UPDATE SET signed = {table}.signed + EXCLUDED.signed",
            [unit_id, delta],
        )


@contextmanager
def tally_tracked(member: Member) -> Iterator[None]:
    """Keep the unit tally right across whatever the body does to this member and their cards.

    Must run inside a transaction (the services are atomic); locks the member row first, so two
    changes of the same member (two cards signed at once, a revoke racing a status change) are
    applied one after the other and each sees the other's result.
    """
    if member.pk in _tracked.get():
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("tally_tracked needs a transaction")
    # One lock order for every service: the member (services lock it first), then the audit chain
    # head (which every audited change locks anyway, so changes already run one at a time past
    # their first audit record), then tally rows. Tally rows before the head in one transaction
    # and the head before them in another deadlocked on PostgreSQL
    # (test_simultaneous_changes_keep_the_tally).
    Member.objects.select_for_update().filter(pk=member.pk).values_list("pk", flat=True).first()
    AuditChainHead.objects.select_for_update().get_or_create(pk=1)
    before, level_before = counted_unit(member.pk), latest_level(member.pk)
    token = _tracked.set(_tracked.get() | {member.pk})
    try:
        yield
    finally:
        _tracked.reset(token)
    after, level_after = counted_unit(member.pk), latest_level(member.pk)
    if before != after:
        if before is not None:
            _adjust(before, -1)
        if after is not None:
            _adjust(after, 1)
    if level_before != level_after:
        local_id = Member.objects.filter(pk=member.pk).values_list("local_id", flat=True).get()
        if level_before is not None:
            support_adjust(local_id, level_before, -1)
        if level_after is not None:
            support_adjust(local_id, level_after, 1)


def latest_level(member_id: int) -> int | None:
    """The level (id) of the member's latest support assessment, None when never assessed."""
    return (SupportAssessment.objects.filter(member_id=member_id).order_by("-recorded_at", "-pk")
            .values_list("level_id", flat=True).first())


def support_adjust(local_id: int, level_id: int, delta: int) -> None:
    table = connection.ops.quote_name(SupportTally._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (local_id, level_id, members) VALUES (%s, %s, %s) "  # noqa: S608 (model's table)
            f"ON CONFLICT (local_id, level_id) DO UPDATE SET members = {table}.members + EXCLUDED.members",
            [local_id, level_id, delta],
        )


def support_recount(local: Local | None = None) -> dict[tuple[int, int], int]:
    """Contacts per (local, level) by their latest assessment, counted from the rows."""
    from django.db.models import Subquery

    latest = (SupportAssessment.objects.filter(member_id=OuterRef("member_id"))
              .order_by("-recorded_at", "-pk").values("pk")[:1])
    rows = SupportAssessment.objects.filter(member__erased_at__isnull=True, pk=Subquery(latest))
    if local is not None:
        rows = rows.filter(member__local=local)
    return {(local_id, level_id): n for local_id, level_id, n in rows.values("member__local_id", "level_id")
            .annotate(n=Count("pk")).values_list("member__local_id", "level_id", "n").order_by()}


def support_stored(local: Local | None = None) -> dict[tuple[int, int], int]:
    rows = SupportTally.objects.exclude(members=0)
    if local is not None:
        rows = rows.filter(local=local)
    return {(local_id, level_id): n for local_id, level_id, n in rows.values_list("local_id", "level_id", "members")}


def support_check(local: Local | None = None) -> dict[tuple[int, int], tuple[int, int]]:
    """(local, level) pairs whose support tally differs from a recount: {key: (kept, counted)}."""
    kept, counted = support_stored(local), support_recount(local)
    return {k: (kept.get(k, 0), counted.get(k, 0)) for k in kept.keys() | counted.keys()
            if kept.get(k, 0) != counted.get(k, 0)}


def _support_rebuild(local: Local | None) -> int:
    rows = SupportTally.objects.all() if local is None else SupportTally.objects.filter(local=local)
    kept = {(r.local_id, r.level_id): r for r in rows.select_for_update()}
    counted = support_recount(local)
    changed = 0
    for key, row in kept.items():
        if row.members != counted.get(key, 0):
            row.members = counted.get(key, 0)
            row.save(update_fields=["members"])
            changed += 1
    missing = [SupportTally(local_id=k[0], level_id=k[1], members=n) for k, n in counted.items() if k not in kept]
    SupportTally.objects.bulk_create(missing, batch_size=1000)
    return changed + len(missing)


def period_of(moment: datetime) -> datetime:
    """The start of the 15-minute period (UTC) holding `moment`."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % PERIOD_MINUTES, second=0, microsecond=0)


def signatures_adjust(local_id: int, signed_at: datetime, delta: int) -> None:
    """Count a card signed at `signed_at` in (delta=1) or out of (delta=-1) the weekly chart's tally."""
    table = connection.ops.quote_name(SignatureTally._meta.db_table)
    period = SignatureTally._meta.get_field("period").get_db_prep_value(period_of(signed_at), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (local_id, period, signed) VALUES (%s, %s, %s) "  # noqa: S608 (model's table)
            f"ON CONFLICT (local_id, period) DO UPDATE SET signed = {table}.signed + EXCLUDED.signed",
            [local_id, period, delta],
        )


def signatures_recount(local: Local | None = None) -> dict[tuple[int, datetime], int]:
    """Valid cards per (local, period), counted from the rows (maintenance only: reads every card)."""
    cards = UnionCard.objects.filter(revoked_at__isnull=True)
    if local is not None:
        cards = cards.filter(member__local=local)
    return dict(Counter((local_id, period_of(at)) for local_id, at in
                        cards.values_list("member__local_id", "signed_at").iterator(chunk_size=5000)))


def signatures_stored(local: Local | None = None) -> dict[tuple[int, datetime], int]:
    rows = SignatureTally.objects.exclude(signed=0)
    if local is not None:
        rows = rows.filter(local=local)
    return {(local_id, period): n for local_id, period, n in rows.values_list("local_id", "period", "signed")}


def recount(local: Local | None = None) -> dict[int, int]:
    """Signed valid cards per unit, counted from the rows (units with none are left out)."""
    members = _counting_members()
    if local is not None:
        members = members.filter(local=local)
    return dict(members.values("unit").annotate(n=Count("pk")).values_list("unit", "n").order_by())


def stored(local: Local | None = None) -> dict[int, int]:
    """The tally as kept (units with 0 are left out, as in `recount`)."""
    rows = UnitTally.objects.exclude(signed=0)
    if local is not None:
        rows = rows.filter(unit__local=local)
    return dict(rows.values_list("unit_id", "signed"))


def tally_check(local: Local | None = None) -> dict[int, tuple[int, int]]:
    """Units whose tally differs from a recount: {unit id: (kept, counted)}. Empty when all agree."""
    kept, counted = stored(local), recount(local)
    return {u: (kept.get(u, 0), counted.get(u, 0)) for u in kept.keys() | counted.keys()
            if kept.get(u, 0) != counted.get(u, 0)}


def signatures_check(local: Local | None = None) -> dict[tuple[int, datetime], tuple[int, int]]:
    """(local, period) pairs whose signature tally differs from a recount: {key: (kept, counted)}."""
    kept, counted = signatures_stored(local), signatures_recount(local)
    return {k: (kept.get(k, 0), counted.get(k, 0)) for k in kept.keys() | counted.keys()
            if kept.get(k, 0) != counted.get(k, 0)}


@transaction.atomic
def tally_rebuild(local: Local | None = None) -> int:
    """Recount from the rows and store the result. Returns how many units changed.

    Both tallies: units, and signatures per period. Locks the units' tally rows for the recount, so a service running meanwhile waits and then
    applies its change on top of the rebuilt figure.
    """
    units = BargainingUnit.objects.all() if local is None else BargainingUnit.objects.filter(local=local)
    unit_ids = list(units.values_list("pk", flat=True))
    existing = {t.unit_id: t for t in UnitTally.objects.select_for_update().filter(unit_id__in=unit_ids)}
    counted = recount(local)
    changed = _signatures_rebuild(local) + _support_rebuild(local)
    for unit_id in unit_ids:
        n = counted.get(unit_id, 0)
        row = existing.get(unit_id)
        if row is None:
            if n:
                UnitTally.objects.create(unit_id=unit_id, signed=n)
                changed += 1
        elif row.signed != n:
            row.signed = n
            row.save(update_fields=["signed"])
            changed += 1
    return changed


def _signatures_rebuild(local: Local | None) -> int:
    rows = SignatureTally.objects.all() if local is None else SignatureTally.objects.filter(local=local)
    kept = {(r.local_id, r.period): r for r in rows.select_for_update()}
    counted = signatures_recount(local)
    changed = 0
    for key, row in kept.items():
        if row.signed != counted.get(key, 0):
            row.signed = counted.get(key, 0)
            row.save(update_fields=["signed"])
            changed += 1
    missing = [SignatureTally(local_id=k[0], period=k[1], signed=n) for k, n in counted.items() if k not in kept]
    SignatureTally.objects.bulk_create(missing, batch_size=1000)
    return changed + len(missing)
