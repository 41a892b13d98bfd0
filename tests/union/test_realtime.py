"""The notification socket (union/consumers.py) and notify_user (union/realtime.py).

Sockets are driven through the whole ASGI application (origin check, cookie, session and auth
middleware) with channels' WebsocketCommunicator, against whatever channel layer the settings
name: the in-memory layer by default, Redis pub/sub in CI. The consumer reads the database from a
worker thread, so these tests use a transactional database: rows inside a test transaction that
never commits would be invisible to it.

"Not delivered" is never proven by waiting alone: each such test sends the event, then sees the
consumer's positive answer to it (a close, or a later event arriving first).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import transaction
from django.test import Client

from membership.models import User
from membership.services import role_grant, user_deactivate, user_end_sessions
from tests.base import login_as
from tests.factories import make_local, make_member, make_user
from union.asgi import application
from union.consumers import CLOSE_SESSION_ENDED, CLOSE_UNAUTHORIZED
from union.realtime import ERROR_NOTIFY_KIND, ERROR_NOTIFY_TEXT, ERROR_NOTIFY_URL, notify_user, user_group

PATH = "/ws/notifications/"
ORIGIN = b"http://testserver"
transactional = pytest.mark.django_db(transaction=True)


def session_cookie(user: User, *, verified: bool = True) -> str:
    """The Cookie header of a browser logged in as `user` (officers verified with TOTP unless told)."""
    client = Client()
    if verified:
        login_as(client, user)
    else:
        client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def session_key(cookie: str) -> str:
    return cookie.split("=", 1)[1]


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def socket(cookie: str | None = None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, PATH, headers=headers)


async def open_socket(cookie: str) -> WebsocketCommunicator:
    communicator = socket(cookie)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def close_code(communicator: WebsocketCommunicator) -> int:
    """The code of the close that must be the socket's next output (a message first fails)."""
    output = await communicator.receive_output(timeout=2)
    assert output["type"] == "websocket.close", output
    return output["code"]


def committed_notice(user_id: int, text: str = "A steward replied on your case", url: str = "/cases/1/") -> None:
    with transaction.atomic():
        notify_user(user_id, kind="grievance.reply", text=text, url=url)


def notice(text: str = "A steward replied on your case", url: str = "/cases/1/") -> dict[str, Any]:
    return {"type": "notify", "kind": "grievance.reply", "text": text, "url": url}


@pytest.fixture
def amani(transactional_db: None) -> User:
    return make_user("amani")


@transactional
class TestConnect:
    def test_it_closes_an_anonymous_socket_with_4401(self) -> None:
        async def scenario() -> None:
            communicator = socket()
            connected, _ = await communicator.connect()
            assert connected  # accepted only to be closed with a code the page understands
            assert await close_code(communicator) == CLOSE_UNAUTHORIZED
            await communicator.disconnect()

        run(scenario)

    def test_it_refuses_another_origin(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = socket(cookie, origin=b"https://evil.example")
            connected, _ = await communicator.connect()
            assert not connected
            await communicator.disconnect()

        run(scenario)

    def test_it_closes_a_socket_of_a_deactivated_user(self, amani: User) -> None:
        cookie = session_cookie(amani)
        User.objects.filter(pk=amani.pk).update(is_active=False)

        async def scenario() -> None:
            communicator = socket(cookie)
            await communicator.connect()
            assert await close_code(communicator) == CLOSE_UNAUTHORIZED
            await communicator.disconnect()

        run(scenario)

    def test_it_closes_an_officer_socket_until_two_factor_is_verified(self) -> None:
        steward = make_member(make_local(), "steward")
        password_only, verified = session_cookie(steward, verified=False), session_cookie(steward)

        async def scenario() -> None:
            communicator = socket(password_only)
            await communicator.connect()
            assert await close_code(communicator) == CLOSE_UNAUTHORIZED
            await communicator.disconnect()
            communicator = await open_socket(verified)
            await database_sync_to_async(committed_notice)(steward.pk)
            assert await communicator.receive_json_from(timeout=2) == notice()
            await communicator.disconnect()

        run(scenario)


@transactional
class TestDelivery:
    def test_it_delivers_a_notification_after_commit(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(committed_notice)(amani.pk)
            assert await communicator.receive_json_from(timeout=2) == notice()
            await communicator.disconnect()

        run(scenario)

    def test_it_delivers_nothing_from_a_rolled_back_transaction(self, amani: User) -> None:
        cookie = session_cookie(amani)

        def rolled_back() -> None:
            with pytest.raises(RuntimeError), transaction.atomic():
                notify_user(amani.pk, kind="grievance.reply", text="Rolled back", url="/cases/2/")
                raise RuntimeError("the write failed")

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(rolled_back)()
            await database_sync_to_async(committed_notice)(amani.pk)
            # Events of one group arrive in order: had the first been sent, it would come first.
            assert await communicator.receive_json_from(timeout=2) == notice()
            assert await communicator.receive_nothing()
            await communicator.disconnect()

        run(scenario)

    def test_it_delivers_only_the_users_own_notifications(self, amani: User) -> None:
        cookie, other = session_cookie(amani), make_user("baraka")

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(committed_notice)(other.pk, "For someone else")
            await database_sync_to_async(committed_notice)(amani.pk)
            assert await communicator.receive_json_from(timeout=2) == notice()
            await communicator.disconnect()

        run(scenario)

    def test_it_forwards_only_kind_text_and_url(self, amani: User) -> None:
        cookie = session_cookie(amani)
        event = {"type": "notify.message", "kind": "k", "text": "t", "url": "/u/", "secret": "not for the page"}

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await get_channel_layer().group_send(user_group(amani.pk), event)
            assert await communicator.receive_json_from(timeout=2) == {
                "type": "notify",
                "kind": "k",
                "text": "t",
                "url": "/u/",
            }
            await communicator.disconnect()

        run(scenario)

    def test_it_forwards_a_role_change(self, amani: User) -> None:
        cookie, local = session_cookie(amani), make_local()

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(role_grant)(actor=None, user=amani, local=local, role="member")
            assert await communicator.receive_json_from(timeout=2) == {"type": "roles.changed"}
            await communicator.disconnect()

        run(scenario)


@transactional
class TestClientFrames:
    def test_it_answers_a_ping_and_ignores_everything_else(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await communicator.send_to(text_data="not json")
            await communicator.send_to(bytes_data=b"\x00\x01")
            await communicator.send_to(text_data='{"type": "notify.message", "text": "forged"}')
            await communicator.send_to(text_data='{"type": "ping", "pad": "' + "x" * 300 + '"}')
            await communicator.send_json_to({"type": "ping"})
            # Only the last frame gets an answer, and the socket survived the others.
            assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}
            assert await communicator.receive_nothing()
            await communicator.disconnect()

        run(scenario)


@transactional
class TestSessionEnd:
    def test_it_closes_with_4001_when_the_sessions_are_ended(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(user_end_sessions)(actor=None, user=amani, reason="lost phone")
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_revoked_session_gets_no_more_notifications_even_if_session_end_was_lost(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            # The session.end event goes missing (a Redis restart, a busy process); the nonce
            # change in the database does not.
            with mock.patch("membership.services.broadcast_on_commit"):
                await database_sync_to_async(user_end_sessions)(actor=None, user=amani, reason="lost phone")
            await database_sync_to_async(committed_notice)(amani.pk, "Must not arrive")
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_deactivated_user_gets_no_more_notifications(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            with mock.patch("membership.services.broadcast_on_commit"):
                await database_sync_to_async(user_deactivate)(actor=None, user=amani, reason="left the job")
            await database_sync_to_async(committed_notice)(amani.pk, "Must not arrive")
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_logged_out_session_gets_no_more_notifications(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(SessionStore(session_key(cookie)).delete)()
            await communicator.send_json_to({"type": "ping"})
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)


class TestNotifyUser:
    @pytest.mark.parametrize(
        "url", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
    )
    def test_it_refuses_a_link_off_the_site(self, url: str) -> None:
        with pytest.raises(ValueError, match=re.escape(ERROR_NOTIFY_URL)):
            notify_user(1, kind="grievance.reply", text="Hello", url=url)

    @pytest.mark.parametrize("kind", ["", "Grievance", "a b", "x" * 41, "<b>"])
    def test_it_refuses_a_bad_kind(self, kind: str) -> None:
        with pytest.raises(ValueError, match=re.escape(ERROR_NOTIFY_KIND)):
            notify_user(1, kind=kind, text="Hello")

    @pytest.mark.parametrize("text", ["", "   ", "x" * 301])
    def test_it_refuses_an_empty_or_long_text(self, text: str) -> None:
        with pytest.raises(ValueError, match=re.escape(ERROR_NOTIFY_TEXT)):
            notify_user(1, kind="grievance.reply", text=text)
