"""Live in-app notifications of grievance changes, over the real notification WebSocket.

Sockets go through the whole ASGI application (origin check, session cookie, auth, the officer's
second factor) as a browser's would. The consumer reads the database from another thread, so the
database is transactional. "Nothing was sent" is proven by a later, different event arriving
first: events of one group arrive in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client

from grievances.models import Grievance, Step
from grievances.services import event_add, grievance_advance, grievance_assign
from membership.models import User
from tests.base import Personas, build_personas, login_as
from tests.grievances.factories import current_step, make_case
from union.asgi import application
from union.realtime import notify_user

transactional = pytest.mark.django_db(transaction=True)
NARRATIVE = "CANARY-NARRATIVE-5521 the training videos were of torture"
NOTE = "CANARY-NOTE-9034 HR admitted the clawback"


@pytest.fixture
def people(transactional_db: None) -> Personas:
    return build_personas()


def cookie_of(user: User) -> str:
    client = login_as(Client(), user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def open_socket(user: User) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(cookie_of)(user)
    communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                         headers=[(b"origin", settings.TESSERA_SITE_URL.encode()),
                                                  (b"cookie", cookie.encode())])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def notice(grievance: Grievance, text: str) -> dict[str, Any]:
    return {"type": "notify", "kind": "grievance.update", "text": text % grievance.number,
            "url": f"/grievances/{grievance.code}/"}


def committed_notice(user: User) -> None:
    with transaction.atomic():
        notify_user(user.pk, kind="test.later", text="Something else")


def next_step(grievance: Grievance) -> Step:
    return Step.objects.filter(union=grievance.union, position__gt=current_step(grievance).position).order_by("position")[0]


@transactional
class TestAssignment:
    def test_the_steward_and_the_grievant_hear_of_an_assignment(self, people: Personas) -> None:
        case = make_case(people, assign=False, narrative=NARRATIVE)

        async def scenario() -> None:
            steward, grievant = await open_socket(people.steward), await open_socket(people.member)
            await database_sync_to_async(grievance_assign)(actor=people.local_admin, grievance=case,
                                                           steward=people.steward)
            assert await steward.receive_json_from(timeout=2) == notice(case, "You were assigned case %s.")
            assert await grievant.receive_json_from(timeout=2) == notice(case, "A steward now works on case %s.")
            await steward.disconnect()
            await grievant.disconnect()

        run(scenario)


@transactional
class TestSharedNote:
    def test_the_grievant_hears_of_a_shared_note_without_its_text(self, people: Personas) -> None:
        case = make_case(people, narrative=NARRATIVE)

        async def scenario() -> None:
            grievant = await open_socket(people.member)
            await database_sync_to_async(event_add)(actor=people.steward, grievance=case, kind="shared_note",
                                                    body=NOTE)
            message = await grievant.receive_json_from(timeout=2)
            assert message == notice(case, "There is news on case %s.")
            assert "CANARY" not in str(message) and case.title not in str(message)
            await grievant.disconnect()

        run(scenario)

    def test_an_internal_note_reaches_no_grievant(self, people: Personas) -> None:
        case = make_case(people)

        async def scenario() -> None:
            grievant = await open_socket(people.member)
            await database_sync_to_async(event_add)(actor=people.steward, grievance=case, kind="note", body=NOTE)
            await database_sync_to_async(grievance_advance)(actor=people.steward, grievance=case,
                                                            step=await database_sync_to_async(next_step)(case))
            # Had the internal note been announced, its notice would have come first.
            assert await grievant.receive_json_from(timeout=2) == notice(case, "Case %s moved to its next step.")
            await grievant.disconnect()

        run(scenario)

    def test_the_steward_hears_of_a_note_shared_by_another_officer_but_not_of_their_own(self, people: Personas) -> None:
        case = make_case(people)

        async def scenario() -> None:
            steward = await open_socket(people.steward)
            await database_sync_to_async(event_add)(actor=people.steward, grievance=case, kind="shared_note", body=NOTE)
            await database_sync_to_async(grievance_advance)(actor=people.local_admin, grievance=case,
                                                            step=await database_sync_to_async(next_step)(case))
            assert await steward.receive_json_from(timeout=2) == notice(case, "Case %s moved to its next step.")
            await database_sync_to_async(event_add)(actor=people.local_admin, grievance=case, kind="shared_note",
                                                    body=NOTE)
            assert await steward.receive_json_from(timeout=2) == notice(case, "There is news on case %s.")
            await steward.disconnect()

        run(scenario)


@transactional
class TestStepChange:
    def test_grievant_and_steward_hear_of_a_step_change(self, people: Personas) -> None:
        case = make_case(people, narrative=NARRATIVE)

        async def scenario() -> None:
            steward, grievant = await open_socket(people.steward), await open_socket(people.member)
            await database_sync_to_async(grievance_advance)(actor=people.local_admin, grievance=case,
                                                            step=await database_sync_to_async(next_step)(case))
            expected = notice(case, "Case %s moved to its next step.")
            assert await grievant.receive_json_from(timeout=2) == expected
            assert await steward.receive_json_from(timeout=2) == expected
            await steward.disconnect()
            await grievant.disconnect()

        run(scenario)

    def test_an_outsider_hears_nothing(self, people: Personas) -> None:
        case = make_case(people)

        async def scenario() -> None:
            outsider = await open_socket(people.outsider)
            await database_sync_to_async(grievance_advance)(actor=people.steward, grievance=case,
                                                            step=await database_sync_to_async(next_step)(case))
            await database_sync_to_async(committed_notice)(people.outsider)
            # The outsider's first notice is the later one: the step change was never sent to them.
            assert (await outsider.receive_json_from(timeout=2))["text"] == "Something else"
            await outsider.disconnect()

        run(scenario)
