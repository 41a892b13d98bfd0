"""Channel layers on a real Redis, as several Daphne processes share it; and /healthz on Redis.

Why redis is pinned to 7.4.1 (requirements.txt), measured with channels 4.3.2, channels_redis 4.3.0
and redis-py 8.0.0 / 8.1.0 against a local Redis:

- redis-py 8 changed two client defaults: `socket_timeout` (and `socket_connect_timeout`) is now
  5 seconds instead of none, and an asyncio `ConnectionPool` holds at most 100 connections instead
  of 2**31 (upstream redis-py #4091, channels_redis #422).
- `RedisChannelLayer` (channels_redis.core) breaks on both. Its receive() waits in BZPOPMIN with a
  5 second server-side timeout, and the client's 5 second socket timeout runs out first (its clock
  starts earlier): after 5 quiet seconds receive() raises `redis.exceptions.TimeoutError`, which
  ends the consumer and drops its WebSocket. Every idle socket dies within 5 seconds and nothing
  is delivered to it. A burst of more than 100 concurrent group_send() calls from one process
  fails with `MaxConnectionsError: Too many connections`.
- `RedisPubSubChannelLayer`, the one Tessera configures, is NOT affected in 8.0.0 or 8.1.0: its
  reader polls `get_message(timeout=0.1)`, an explicit per-read timeout that overrides the socket
  timeout, and each shard sends through one lock, so it never holds more than two connections.
  Delivery after 7 idle seconds and bursts of 300 group_send() calls both work on 8.1.0.

So these tests run both layers (the core layer is the documented alternative, and the one the
upstream reports are about). With redis 8.1.0 in place of 7.4.1 (`pip install --target DIR
redis==8.1.0 --no-deps`, then `PYTHONPATH=DIR pytest` this file), the idle test and the burst
test fail on RedisChannelLayer, and everything else passes. The idle wait must outlast redis-py
8's 5 second default socket timeout; it is the one slow test here (about 6 seconds), and both
layers share it.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.test import Client
from pytest_django import Settings

from tests.services import redis_url
from union.views import _layer_roundtrip

pytestmark = pytest.mark.redis

# redis-py 8's default socket timeout is 5 seconds; the idle wait must outlast it.
REDIS8_DEFAULT_SOCKET_TIMEOUT = 5
IDLE_SECONDS = REDIS8_DEFAULT_SOCKET_TIMEOUT + 0.5
# redis-py 8's asyncio pools hold at most 100 connections by default.
BURST = 150
LAYERS = (RedisPubSubChannelLayer, RedisChannelLayer)


@pytest.fixture
def address() -> str:
    return redis_url()


@pytest.fixture
def prefix() -> str:
    # Our own keys and channel names only, so that flushing cannot touch anything else.
    return f"tessera-test-{uuid.uuid4().hex[:12]}"


def make_layer(layer_class: type, address: str, prefix: str) -> Any:
    config: dict[str, Any] = {"hosts": [{"address": address}], "prefix": prefix}
    if layer_class is RedisChannelLayer:
        config["capacity"] = BURST * 2  # the core layer drops messages past 100 per channel
    return layer_class(**config)


async def two_processes(layer_class: type, address: str, prefix: str) -> tuple[Any, Any, str]:
    """Two layer instances on one Redis, like two Daphne processes, and a consumer channel on the first."""
    receiving, sending = make_layer(layer_class, address, prefix), make_layer(layer_class, address, prefix)
    channel = await receiving.new_channel()
    await receiving.group_add("user.1", channel)
    return receiving, sending, channel


def run(scenario: Any, *args: Any) -> Any:
    return async_to_sync(scenario)(*args)


class TestDelivery:
    @pytest.mark.parametrize("layer_class", LAYERS, ids=lambda cls: cls.__name__)
    def test_group_send_reaches_a_consumer_in_another_process(
        self, address: str, prefix: str, layer_class: type
    ) -> None:
        async def scenario() -> None:
            receiving, sending, channel = await two_processes(layer_class, address, prefix)
            try:
                await sending.group_send("user.1", {"type": "notify.message", "text": "hello"})
                assert await asyncio.wait_for(receiving.receive(channel), 2) == {
                    "type": "notify.message",
                    "text": "hello",
                }
            finally:
                await receiving.flush()
                await sending.flush()

        run(scenario)

    def test_delivery_survives_an_idle_period_longer_than_redis8s_socket_timeout(
        self, address: str, prefix: str
    ) -> None:
        async def after_idle(layer_class: type) -> str:
            receiving, sending, channel = await two_processes(layer_class, address, f"{prefix}-{layer_class.__name__}")
            try:
                # A consumer is always waiting in receive(), also while nothing happens.
                waiting = asyncio.ensure_future(receiving.receive(channel))
                await asyncio.sleep(IDLE_SECONDS)
                await sending.group_send("user.1", {"type": "notify.message", "text": "after a quiet spell"})
                message = await asyncio.wait_for(waiting, 2)
                return "delivered" if message["text"] == "after a quiet spell" else f"wrong message {message}"
            except Exception as error:  # noqa: BLE001 - reported per layer in the assertion below
                return f"{type(error).__name__}: {error}"
            finally:
                await receiving.flush()
                await sending.flush()

        async def scenario() -> dict[str, str]:
            # Both layers idle at the same time, so the suite waits once.
            outcomes = await asyncio.gather(*(after_idle(cls) for cls in LAYERS))
            return {cls.__name__: outcome for cls, outcome in zip(LAYERS, outcomes, strict=True)}

        assert run(scenario) == {cls.__name__: "delivered" for cls in LAYERS}

    @pytest.mark.parametrize("layer_class", LAYERS, ids=lambda cls: cls.__name__)
    def test_a_burst_of_group_sends_from_one_process_is_delivered(
        self, address: str, prefix: str, layer_class: type
    ) -> None:
        async def scenario() -> None:
            receiving, sending, channel = await two_processes(layer_class, address, prefix)
            try:
                await asyncio.gather(*(sending.group_send("user.1", {"type": "n", "n": n}) for n in range(BURST)))
                received = [await asyncio.wait_for(receiving.receive(channel), 2) for _ in range(BURST)]
                assert sorted(message["n"] for message in received) == list(range(BURST))
            finally:
                await receiving.flush()
                await sending.flush()

        run(scenario)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts TCP connections and never answers: a Redis that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # the kernel completes handshakes into the backlog; nobody reads
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def use_layer(settings: Settings, address: str, prefix: str) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": address}], "prefix": prefix},
        }
    }


@pytest.mark.django_db
class TestHealthzOnRedis:
    def test_it_reports_the_layer_ok(self, client: Client, settings: Settings, address: str, prefix: str) -> None:
        use_layer(settings, address, prefix)
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}

    @pytest.mark.parametrize("where", ["closed port", "silent server"])
    def test_it_answers_503_quickly_when_redis_is_unreachable(
        self, client: Client, settings: Settings, prefix: str, silent_server: str, where: str
    ) -> None:
        use_layer(settings, "redis://127.0.0.1:1/0" if where == "closed port" else silent_server, prefix)
        started = time.monotonic()
        response = client.get("/healthz")
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        assert response.json() == {"status": "error", "database": "ok", "channel_layer": "error"}

    def test_probes_leave_no_subscription_behind(self, settings: Settings, address: str, prefix: str) -> None:
        # Under Daphne every probe runs on the server's one event loop, with one layer for its life.
        use_layer(settings, address, prefix)

        async def probes() -> None:
            for _ in range(3):
                await _layer_roundtrip()

        run(probes)
        with redis.Redis.from_url(address) as independent:
            assert independent.pubsub_channels(f"{prefix}*") == []
