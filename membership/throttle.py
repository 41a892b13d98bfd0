"""Limits on the public join form: a script is stopped, a whole office behind one address is not.

One address made 323 sign-ups a minute. Two limits now apply, counted in the database so every
Daphne process shares them (a per-process counter would multiply the limit by the process count):

- Per client address: every POST to the join form counts, valid or not (so the form cannot be
  used to probe handles or pseudonyms at speed either). `TESSERA_JOIN_PER_ADDRESS_HOUR` (60 by
  default) in a fixed hour: a BPO floor of a few hundred people behind one NAT address joining
  after a meeting gets through within hours, and an invitation link (from a member) is not
  counted against the address at all. The address is kept only as a keyed hash.
- Per union: valid sign-ups in an hour and in a day (`TESSERA_JOIN_PER_UNION_HOUR`, 200, and
  `TESSERA_JOIN_PER_UNION_DAY`, 1000). Past the ceiling the public form pauses with a clear page,
  invitations keep working, and the union's organizers and local admins are alerted once per
  window (in the app, by a neutral email, and in the audit log) so real workers are not turned
  away silently.

Windows are fixed (the hour or day the attempt falls in): a burst across a boundary can reach
twice a limit, which is acceptable for limits this loose and keeps each check one statement.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from membership.models import JoinThrottle, Union
from union import crypto

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)


def hit(key: str, *, window: timedelta, now: datetime | None = None) -> int:
    """Count one more attempt under `key` in the current window; return the count, this one included.

    One INSERT ... ON CONFLICT DO UPDATE ... RETURNING: atomic on PostgreSQL and SQLite, so
    simultaneous requests in several processes never lose a count.
    """
    start = _window_start(now or timezone.now(), window)
    # Only our own table and column names are interpolated (quoted); the values are parameters.
    table = connection.ops.quote_name(JoinThrottle._meta.db_table)
    key_c, start_c, hits_c, alerted_c = (connection.ops.quote_name(c) for c in ("key", "window_start", "hits", "alerted"))
    sql = (f"INSERT INTO {table} ({key_c}, {start_c}, {hits_c}, {alerted_c}) VALUES (%s, %s, 1, %s) "  # noqa: S608
           f"ON CONFLICT ({key_c}, {start_c}) DO UPDATE SET {hits_c} = {table}.{hits_c} + 1 RETURNING {hits_c}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, connection.ops.adapt_datetimefield_value(start), False])
        row = cursor.fetchone()
    return int(row[0])


def claim_alert(key: str, *, window: timedelta, now: datetime | None = None) -> bool:
    """True exactly once per window and key: whoever flips `alerted` sends the alert."""
    start = _window_start(now or timezone.now(), window)
    return JoinThrottle.objects.filter(key=key, window_start=start, alerted=False).update(alerted=True) == 1


def address_key(request: HttpRequest) -> str:
    """A keyed hash of the client address: counts per address without keeping the address."""
    # Behind the proxy, Daphne's --proxy-headers puts the real client into REMOTE_ADDR.
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    return "a:" + hmac.new(crypto.derived_key("join-address"), remote.encode(), hashlib.sha256).hexdigest()[:60]


def address_allowed(request: HttpRequest) -> bool:
    """Count this POST against the client's address; False once past the hourly limit."""
    return hit(address_key(request), window=HOUR) <= settings.TESSERA_JOIN_PER_ADDRESS_HOUR


def union_allowed(union: Union) -> bool:
    """Count one valid sign-up against the union's ceilings; past either, alert and refuse.

    The alert commits even though the sign-up is refused (it runs outside any request
    transaction): organizers must hear about a pause while it is happening.
    """
    limits = ((f"u:{union.pk}:hour", HOUR, settings.TESSERA_JOIN_PER_UNION_HOUR),
              (f"u:{union.pk}:day", DAY, settings.TESSERA_JOIN_PER_UNION_DAY))
    over = [(key, window, limit) for key, window, limit in limits if hit(key, window=window) > limit]
    for key, window, limit in over:
        if claim_alert(key, window=window):
            transaction.on_commit(partial(_alert_organizers, union, window=window, limit=limit))
    return not over


def _alert_organizers(union: Union, *, window: timedelta, limit: int) -> None:
    from membership.services import join_ceiling_alert

    join_ceiling_alert(union=union, per="day" if window == DAY else "hour", limit=limit)


def forget_old(*, older_than: timedelta = 2 * DAY) -> int:
    """Delete counters of finished windows (join_cleanup calls it)."""
    deleted, _detail = JoinThrottle.objects.filter(window_start__lt=timezone.now() - older_than).delete()
    return deleted
