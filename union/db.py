"""Database connections: how the connection pool makes sure a connection it lends still works.

psycopg_pool can check every connection before lending it (`ConnectionPool.check_connection`, what
Django sets when CONN_HEALTH_CHECKS is on): one round trip to PostgreSQL per borrow. The rooms'
socket borrows once per message sent, so that check was a third of a send's round trips and of
its queries on the server. A connection lent a moment ago has been used since, and a dead one is
then found by the query that fails on it: Django closes a connection after an error it cannot
use, and the pool drops a closed or broken connection when it comes back. What the check is for
is the connection that sat idle while PostgreSQL restarted or a firewall dropped it: those are
still checked, with a round trip, before they are lent again.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

# Connection -> when it was last lent (monotonic). Weak: a connection the pool closes is forgotten.
_lent_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


class CheckAfterIdle:
    """The pool's `check`: a round trip only for a connection not lent within `seconds` (0: always)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, conn: Any) -> None:
        from psycopg_pool import ConnectionPool

        now = time.monotonic()
        last = _lent_at.get(conn)
        _lent_at[conn] = now
        if conn.closed or conn.broken:
            raise ConnectionError("the pooled connection is closed")  # the pool drops it and lends another
        if last is None or now - last >= self.seconds:
            ConnectionPool.check_connection(conn)

    def __repr__(self) -> str:
        return f"CheckAfterIdle({self.seconds:g})"
