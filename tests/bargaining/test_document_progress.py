"""Live progress of document generation over /ws/bargaining/<code>/ (bargaining/consumers.py).

Driven through the whole ASGI application with channels' WebsocketCommunicator, against whatever
channel layer the settings name (Redis pub/sub when REDIS_URL is set), with a transactional
database as the consumer reads it from its own thread. The generation runs as the task does
(immediate backend), from the view a committee member posts to.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from bargaining.models import Campaign
from bargaining.progress import PERCENT
from membership.models import Member
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas, build_personas, login_as
from union.asgi import application
from union.consumers import CLOSE_ACCESS_CHANGED, CLOSE_SESSION_ENDED, CLOSE_UNAUTHORIZED

ORIGIN = settings.TESSERA_SITE_URL.encode()
transactional = pytest.mark.django_db(transaction=True)
needs_pdftoppm = pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) is not installed")


@pytest.fixture
def people(transactional_db: None) -> Personas:
    return build_personas()


def cookie(user: Any) -> str:
    client = login_as(Client(), user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def socket(campaign: Campaign, cookie_header: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", ORIGIN)]
    if cookie_header is not None:
        headers.append((b"cookie", cookie_header.encode()))
    return WebsocketCommunicator(application, f"/ws/bargaining/{campaign.code}/", headers=headers)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


async def frames_until_done(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=20)
        frames.append(frame)
        if frame.get("step") in ("done", "failed"):
            return frames


def generate(user: Any, campaign: Campaign, name: str = "campaign_document_generate") -> Any:
    return login_as(Client(), user).post(reverse(f"bargaining:{name}", kwargs={"code": campaign.code}),
                                         HTTP_ACCEPT="application/json")


@transactional
@needs_pdftoppm
def test_a_member_watching_the_campaign_sees_each_step_then_the_version_and_its_preview(people: Personas) -> None:
    campaign = make_campaign(people)
    make_demand(people, campaign)
    watchers = {"member": cookie(people.member), "representative": cookie(people.representative)}

    async def scenario() -> None:
        sockets = {name: socket(campaign, header) for name, header in watchers.items()}
        notices = WebsocketCommunicator(application, "/ws/notifications/",
                                        headers=[(b"origin", ORIGIN), (b"cookie", watchers["representative"].encode())])
        for communicator in [*sockets.values(), notices]:
            connected, _ = await communicator.connect()
            assert connected
        answer = await database_sync_to_async(generate)(people.representative, campaign)
        assert answer.status_code == 200 and answer.json()["step"] == "done"
        for name, communicator in sockets.items():
            frames = await frames_until_done(communicator)
            steps = [frame["step"] for frame in frames]
            assert steps == ["start", "layout", "write", "store", "preview", "done"], name
            assert [frame["percent"] for frame in frames] == [PERCENT[step] for step in steps]
            assert all(frame["type"] == "progress" and frame["kind"] == "demands" for frame in frames)
            done = frames[-1]
            assert done["version"] == 1
            assert done["download"] == reverse("bargaining:campaign_document_download",
                                               kwargs={"code": campaign.code, "version": 1})
            assert done["preview"] == reverse("bargaining:campaign_document_preview",
                                              kwargs={"code": campaign.code, "version": 1})
            # Nothing but the declared fields reaches the page.
            assert set(done) <= {"type", "kind", "step", "percent", "version", "download", "preview"}
        # The requester hears it on their other pages too, as a notice with a link to the campaign.
        notice = await notices.receive_json_from(timeout=5)
        assert notice == {"type": "notify", "kind": "bargaining.document",
                          "text": "The demands document, version 1, is ready.",
                          "url": reverse("bargaining:campaign_detail", kwargs={"code": campaign.code})}
        await notices.disconnect()
        # That notice also went to every socket of theirs: this one ignores it
        # and stays up (it used to end the socket: no handler for notify.message).
        for communicator in sockets.values():
            await communicator.send_json_to({"type": "ping"})
            assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
            await communicator.disconnect()

    run(scenario)


@transactional
def test_outsiders_and_the_anonymous_are_refused_and_hear_nothing(people: Personas) -> None:
    campaign = make_campaign(people)
    make_demand(people, campaign)

    headers = [None, cookie(people.outsider), cookie(people.organizer)]
    member = cookie(people.member)

    async def scenario() -> None:
        for header in headers:
            communicator = socket(campaign, header)
            connected, _ = await communicator.connect()
            assert connected  # accepted only to be closed with a code the page understands
            output = await communicator.receive_output(timeout=5)
            assert output == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}
            await communicator.disconnect()
        # A campaign that does not exist looks the same.
        missing = Campaign(code="00000000-0000-0000-0000-000000000000")
        communicator = socket(missing, member)
        await communicator.connect()
        assert (await communicator.receive_output(timeout=5))["code"] == CLOSE_UNAUTHORIZED
        await communicator.disconnect()

    run(scenario)


@transactional
def test_a_member_who_leaves_the_unit_stops_hearing(people: Personas) -> None:
    campaign = make_campaign(people)
    make_demand(people, campaign)

    def move_away() -> None:
        Member.objects.filter(user=people.member).update(unit=None)

    member = cookie(people.member)

    async def scenario() -> None:
        communicator = socket(campaign, member)
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(move_away)()
        # The campaign's rule is part of the socket's rights: the next re-check closes it.
        consumer_checks = await communicator.receive_output(timeout=settings.TESSERA_WS_RECHECK_SECONDS + 5)
        assert consumer_checks["type"] == "websocket.close"
        assert consumer_checks["code"] in (CLOSE_SESSION_ENDED, CLOSE_ACCESS_CHANGED)
        await communicator.disconnect()

    run(scenario)


@transactional
def test_a_failed_render_says_so(people: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    campaign = make_campaign(people)
    make_demand(people, campaign)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("layout failed")

    monkeypatch.setattr("bargaining.documents.html_to_pdf", broken)

    member = cookie(people.member)

    async def scenario() -> None:
        communicator = socket(campaign, member)
        await communicator.connect()
        answer = await database_sync_to_async(generate)(people.representative, campaign)
        assert answer.status_code == 500 and answer.json()["step"] == "failed"
        frames = await frames_until_done(communicator)
        assert [f["step"] for f in frames] == ["start", "failed"]
        await communicator.disconnect()

    run(scenario)
