"""Compare-and-swap and sequence numbers under real concurrency (PostgreSQL row locks).

SQLite's in-memory test database answers "table is locked" to concurrent writers instead of
queueing them, so these tests need PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection

from messaging.models import Commit, Message
from messaging.services import StaleCommit, commit_post, message_post
from tests.base import build_personas
from tests.factories import make_member
from tests.messaging.rooms import enroll, land, local_room
from tests.services import need

pytestmark = pytest.mark.django_db(transaction=True)


def _run_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each job in its own thread and database connection, all released together."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = jobs[i]()
        except BaseException as error:  # noqa: BLE001 - returned to the test, which asserts on it
            results[i] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_admins_committing_at_once_one_gets_stale() -> None:
    need(connection.vendor == "postgresql", "concurrent commits need PostgreSQL (set DATABASE_URL)")
    p = build_personas()
    org, admin = p.organizer, p.local_admin
    a, c = enroll(org), enroll(admin)
    room = local_room(org, p.local)
    land(room, (org, a), [(org, a, "admin"), (admin, c, "admin")])
    first = a.make_commit(room.room_id, [(a, "admin"), (c, "admin")])
    second = c.make_commit(room.room_id, [(a, "admin"), (c, "admin")])
    results = _run_at_once([
        lambda: commit_post(actor=org, room=room, body=first[0], wraps=first[1]),
        lambda: commit_post(actor=admin, room=room, body=second[0], wraps=second[1]),
    ])
    assert sorted(type(r).__name__ for r in results) == ["Commit", "StaleCommit"]
    assert Commit.objects.filter(room=room, epoch=1).count() == 1
    # The loser rebuilds on the new head and lands epoch 2.
    loser = (org, a) if isinstance(results[0], StaleCommit) else (admin, c)
    land(room, loser, [(org, a, "admin"), (admin, c, "admin")])
    assert list(Commit.objects.filter(room=room).values_list("epoch", flat=True).order_by("epoch")) == [0, 1, 2]


def test_sequence_numbers_stay_dense_and_ordered_under_concurrency() -> None:
    need(connection.vendor == "postgresql", "concurrent sends need PostgreSQL (set DATABASE_URL)")
    p = build_personas()
    org = p.organizer
    a = enroll(org)
    senders = [(user, enroll(user)) for user in [make_member(p.local) for _ in range(4)]]
    room = local_room(org, p.local)
    land(room, (org, a), [(org, a, "admin")] + [(u, acct, "member") for u, acct in senders])
    envelopes = [[acct.seal(room.room_id, {"type": "text", "text": str(n)}) for n in range(10)] for _u, acct in senders]

    def send_all(user: Any, mine: list[dict[str, Any]]) -> list[int]:
        return [message_post(actor=user, room=room, envelope=env).seq for env in mine]

    results = _run_at_once([functools.partial(send_all, u, m) for (u, _acct), m in zip(senders, envelopes, strict=True)])
    assert all(isinstance(r, list) for r in results), results
    assert sorted(seq for r in results for seq in r) == list(range(1, 41))
    assert all(r == sorted(r) for r in results)  # each sender's messages keep their order
    assert Message.objects.filter(room=room).count() == 40
