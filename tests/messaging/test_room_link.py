"""RoomLink's bookkeeping without a server: each number delivered once and in order, gaps held
until filled, our own sends resolved by the copy that comes back, backoff jittered and capped.
(tests/messaging/test_rooms_faults.py drives it against real processes.)"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from messaging.client import Account
from messaging.client.http import Session
from messaging.client.live import RoomLink


def offline_link() -> RoomLink:
    link = RoomLink(Account(user_id="0" * 32), "room", "code", [Session("http://127.0.0.1:9")], decrypt=False,
                    gap_seconds=0.1, rng=random.Random(7))
    link.catch_up = no_catch_up  # type: ignore[method-assign]
    return link


fetches: list[int] = []


async def no_catch_up() -> None:
    fetches.append(1)


def env(n: int) -> dict[str, Any]:
    return {"n": n}


def test_each_number_is_delivered_once_and_in_order() -> None:
    async def scenario() -> RoomLink:
        link = offline_link()
        fetches.clear()
        link._offer(1, env(1), "live")
        link._offer(1, env(1), "fetch")  # the same again, from a catch-up
        link._offer(3, env(3), "live")  # 2 is missing: 3 waits
        assert [d.seq for d in link.delivered] == [1]
        await asyncio.sleep(0.05)
        assert not fetches, "the gap is given time to fill from the socket (gap_seconds, jittered x1 to x2)"
        await asyncio.sleep(0.3)
        assert fetches, "a gap still there asks for a catch-up"
        link._offer(2, env(2), "fetch")
        link._offer(3, env(3), "fetch")
        return link

    link = asyncio.run(scenario())
    assert [(d.seq, d.via) for d in link.delivered] == [(1, "live"), (2, "fetch"), (3, "live")]
    assert link.duplicates == 2 and link.last_seq == 3


def test_a_send_is_answered_by_its_own_envelope_coming_back() -> None:
    async def scenario() -> int:
        link = offline_link()
        link.ack_timeout = 0.05
        sending = asyncio.ensure_future(link.send_sealed(env(9)))
        await asyncio.sleep(0.1)  # not connected: nothing sent, still waiting
        assert not sending.done()
        link._offer(1, env(9), "fetch")  # a catch-up finds it stored (the first try went through)
        return await sending

    assert asyncio.run(scenario()) == 1


def test_backoff_is_jittered_and_capped() -> None:
    link = offline_link()
    delays = [link.backoff(attempt) for attempt in range(12) for _ in range(20)]
    assert all(0 <= d <= link.backoff_cap for d in delays)
    assert len({round(d, 6) for d in delays}) > 200  # not one instant for every client
    assert max(link.backoff(0) for _ in range(50)) <= link.backoff_base
