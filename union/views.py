"""Health check and error pages (the core names no feature app; the audit page is membership's)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


async def _read_until_cancelled(layer: Any, channel: str, received: asyncio.Future[dict[str, Any]]) -> None:
    while True:
        message = await layer.receive(channel)
        if not received.done():
            received.set_result(message)


async def _layer_roundtrip(timeout: float = 2) -> None:
    """Send a message to a fresh channel and read it back, all within `timeout` seconds.

    Under Daphne this runs on the server's own event loop, where the layer lives as long as the
    process. RedisPubSubChannelLayer unsubscribes a channel only when a pending receive() on it is
    cancelled (as happens when a consumer goes away); a probe that simply returned from receive()
    would leave one subscription behind per health check. So the probe reads the way a consumer
    does, and cancels its reader at the end.
    """
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    async with asyncio.timeout(timeout):
        # Every layer we configure (in-memory, Redis, Redis pub/sub) takes a prefix; Channels'
        # BaseChannelLayer, which the stubs return, declares new_channel() without one.
        channel = await layer.new_channel("healthz.")  # type: ignore[call-arg]
        received: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        reader = asyncio.ensure_future(_read_until_cancelled(layer, channel, received))
        try:
            marker = uuid.uuid4().hex
            await layer.send(channel, {"type": "healthz", "marker": marker})
            either: list[asyncio.Future[Any]] = [received, reader]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not received.done():
                reader.result()  # the reader stops only by raising: pass its error on
            message = received.result()
        finally:
            reader.cancel()
            # Bounded: the cancelled reader unsubscribes, which must not hang on a Redis that hangs.
            await asyncio.wait([reader], timeout=1)
    if message.get("marker") != marker:
        raise RuntimeError("channel layer returned another message")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database and the channel layer answer, 503 otherwise."""
    state = {"database": "ok", "channel_layer": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "down"; the reason is not for the public
        state["database"] = "error"
    try:
        async_to_sync(_layer_roundtrip)()
    except Exception:  # noqa: BLE001
        state["channel_layer"] = "error"
    healthy = all(value == "ok" for value in state.values())
    return JsonResponse({"status": "ok" if healthy else "error", **state}, status=200 if healthy else 503)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
