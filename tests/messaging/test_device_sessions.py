"""Revoking a device ends the account's other sessions, the lost device's among them.

The server cannot tell which login is which device, so publishing a device list that revokes one
ends every session but the one that published it (which stays logged in, with its open sockets);
adding a device (a restore) ends none. Otherwise a stolen phone, still logged in, would go on
fetching the room's messages and opening them with the epoch secret it holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from messaging.client import Account
from tests.base import Personas, build_personas, login_as
from tests.messaging.rooms import land, local_room
from union.asgi import application
from union.consumers import CLOSE_SESSION_ENDED
from union.models import AuditEvent

API = "/api/messaging"


def publish(client: Client, body: dict[str, Any]) -> int:
    return client.post(f"{API}/devices", data=json.dumps(body), content_type="application/json").status_code


def logged_in(client: Client) -> bool:
    response = client.get("/rooms/")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200 or "/account/login/" not in response["Location"]


@pytest.mark.django_db
def test_revoking_a_device_logs_out_the_other_browsers_and_not_this_one(personas: Personas) -> None:
    laptop, phone = login_as(Client(), personas.member), login_as(Client(), personas.member)
    first = Account(user_id=personas.member.code.hex)
    second = Account(user_id=first.user_id, msk_seed=first.msk_seed)
    assert publish(laptop, first.device_list(devices=[first.device(), second.device()])) == 201
    assert logged_in(laptop) and logged_in(phone)  # adding devices ends nobody's session
    assert publish(laptop, first.device_list(devices=[first.device()])) == 201  # the phone is lost
    assert logged_in(laptop)
    assert not logged_in(phone)
    assert phone.get(f"{API}/devices").status_code != 200
    record = AuditEvent.objects.filter(action="user.sessions_ended").latest("seq")
    assert record.details.get("cause") == "device revoked"


@pytest.mark.django_db
def test_a_refused_list_ends_no_session(personas: Personas) -> None:
    laptop, phone = login_as(Client(), personas.member), login_as(Client(), personas.member)
    first = Account(user_id=personas.member.code.hex)
    assert publish(laptop, first.device_list()) == 201
    stale = first.device_list(devices=[])  # version 2, no device: fine; then an old version again
    assert publish(laptop, stale) == 201
    first.version = 1
    assert publish(laptop, first.device_list()) == 400  # not a higher version: refused, changes nothing
    assert logged_in(laptop)
    assert not logged_in(phone)  # ended by the valid revoking list before, not by the refused one
    personas.member.refresh_from_db()  # its session nonce changed: log in as the account is now
    phone = login_as(Client(), personas.member)
    assert logged_in(phone)
    first.version = 0
    assert publish(laptop, first.device_list()) == 400
    assert logged_in(phone)


@pytest.mark.django_db(transaction=True)
def test_the_other_browsers_sockets_close_and_this_ones_stay() -> None:
    p = build_personas()
    laptop, phone = login_as(Client(), p.member), login_as(Client(), p.member)
    first = Account(user_id=p.member.code.hex)
    second = Account(user_id=first.user_id, msk_seed=first.msk_seed)
    assert publish(laptop, first.device_list(devices=[first.device(), second.device()])) == 201
    org = Account(user_id=p.organizer.code.hex)
    login_as(Client(), p.organizer).post(f"{API}/devices", data=json.dumps(org.device_list()),
                                         content_type="application/json")
    room = local_room(p.organizer, p.local)
    land(room, (p.organizer, org), [(p.organizer, org, "admin"), (p.member, first, "member")])

    def socket(client: Client) -> WebsocketCommunicator:
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        return WebsocketCommunicator(application, "/ws/rooms/", headers=[
            (b"origin", settings.TESSERA_SITE_URL.encode()), (b"cookie", cookie.encode())])

    async def scenario() -> None:
        on_laptop, on_phone = socket(laptop), socket(phone)
        assert (await on_laptop.connect())[0] and (await on_phone.connect())[0]
        status = await database_sync_to_async(publish)(laptop, first.device_list(devices=[first.device()]))
        assert status == 201
        closed = await on_phone.receive_output(timeout=5)
        while closed["type"] != "websocket.close":
            closed = await on_phone.receive_output(timeout=5)
        assert closed["code"] == CLOSE_SESSION_ENDED
        # The laptop's socket re-checked too, and stays: a frame still gets its answer.
        await on_laptop.send_json_to({"type": "ping"})
        answer = await on_laptop.receive_json_from(timeout=5)
        while answer["type"] != "pong":
            answer = await on_laptop.receive_json_from(timeout=5)
        await on_laptop.disconnect()

    async_to_sync(scenario)()
