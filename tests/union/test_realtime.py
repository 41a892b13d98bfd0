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

import asyncio
import contextlib
import importlib
import pkgutil
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

import membership.services
from membership.devices import Authenticator
from membership.models import Member, User
from membership.self_service import member_resign
from membership.services import (
    member_reject,
    member_set_status,
    role_grant,
    role_revoke,
    user_deactivate,
    user_end_sessions,
    user_password_changed,
)
from tests.base import login_as
from tests.factories import make_local, make_member, make_user
from union import consumers
from union.asgi import application
from union.consumers import CLOSE_ACCESS_CHANGED, CLOSE_SESSION_ENDED, CLOSE_UNAUTHORIZED
from union.realtime import (
    ERROR_NOTIFY_KIND,
    ERROR_NOTIFY_TEXT,
    ERROR_NOTIFY_URL,
    notify_user,
    notify_users,
    user_group,
)

PATH = "/ws/notifications/"
# A page of this site: the origin check compares scheme, host and port (union/origins.py).
ORIGIN = settings.TESSERA_SITE_URL.encode()
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
            layer = get_channel_layer()
            assert layer is not None
            await layer.group_send(user_group(amani.pk), event)
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


def use_window(settings: Any, seconds: float) -> float:
    settings.TESSERA_WS_RECHECK_SECONDS = seconds
    return seconds


async def closed_within(communicator: WebsocketCommunicator, seconds: float) -> tuple[int, float]:
    """The next output must be a close, within `seconds`; returns its code and how long it took."""
    started = time.monotonic()
    output = await communicator.receive_output(timeout=seconds)
    assert output["type"] == "websocket.close", output
    return output["code"], time.monotonic() - started


@contextlib.contextmanager
def lost_events() -> Iterator[None]:
    """Every event membership's services send goes missing (a Redis restart, a busy process).

    On leaving, at least one event must have been swallowed: otherwise the socket could close on
    the pushed event and the test would pass without proving the timer's re-check.
    """
    swallowed: list[mock.MagicMock] = []
    with contextlib.ExitStack() as stack:
        for info in pkgutil.iter_modules(membership.services.__path__):
            module = importlib.import_module(f"membership.services.{info.name}")
            if hasattr(module, "broadcast_on_commit"):
                swallowed.append(stack.enter_context(mock.patch.object(module, "broadcast_on_commit")))
        yield
    assert any(patched.called for patched in swallowed), "no event was sent, so none was lost"


@transactional
class TestRevocationEvents:
    """Pushed events act at once: the re-check window is a minute, far beyond the test's patience."""

    @pytest.fixture(autouse=True)
    def _long_window(self, settings: Any) -> None:
        use_window(settings, 60)

    def test_it_closes_with_4001_when_the_sessions_are_ended(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(user_end_sessions)(actor=None, user=amani, reason="lost phone")
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_it_closes_with_4001_on_deactivation(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(user_deactivate)(actor=None, user=amani, reason="left the job")
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_removed_officer_role_closes_the_officers_socket_at_once(self) -> None:
        local = make_local()
        steward = make_member(local, "steward")
        cookie = session_cookie(steward)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(role_grant)(actor=None, user=steward, local=local, role="member")
            assert await communicator.receive_json_from(timeout=2) == {"type": "roles.changed"}
            assert await close_code(communicator) == CLOSE_ACCESS_CHANGED
            await communicator.disconnect()

        run(scenario)

    @pytest.mark.parametrize("change", ["suspend", "resign", "reject"])
    def test_a_status_change_closes_the_members_socket_at_once(self, change: str) -> None:
        local = make_local()
        member, organizer = make_member(local), make_member(local, "organizer")
        if change == "reject":
            Member.objects.filter(user=member).update(status=Member.Status.PENDING)
        cookie = session_cookie(member)

        def apply() -> None:
            target = Member.objects.get(user=member)
            if change == "suspend":
                member_set_status(actor=organizer, member=target, new=Member.Status.SUSPENDED, reason="test")
            elif change == "resign":
                member_resign(actor=member, member=target)
            else:
                member_reject(actor=organizer, member=target, reason="not a worker here")

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(apply)()
            while (output := await communicator.receive_output(timeout=2))["type"] == "websocket.send":
                pass  # the rejection notice may come first
            assert output == {"type": "websocket.close", "code": CLOSE_ACCESS_CHANGED}
            await communicator.disconnect()

        run(scenario)

    def test_a_password_change_closes_the_other_sessions_sockets(self, amani: User) -> None:
        cookie = session_cookie(amani)

        def change_password() -> None:
            amani.set_password("a brand new passphrase")
            amani.save(update_fields=["password"])
            with transaction.atomic():
                user_password_changed(user=amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(change_password)()
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_logging_out_closes_that_sessions_sockets_at_once(self, amani: User) -> None:
        browser = login_as(Client(), amani)
        cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
        other = session_cookie(amani)  # the same person on another device stays logged in

        async def scenario() -> None:
            communicator, elsewhere = await open_socket(cookie), await open_socket(other)
            response = await database_sync_to_async(browser.post)(reverse("account:logout"))
            assert response.status_code == 302
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await database_sync_to_async(committed_notice)(amani.pk)
            assert await elsewhere.receive_json_from(timeout=2) == notice()
            await communicator.disconnect()
            await elsewhere.disconnect()

        run(scenario)

    def test_a_password_reset_closes_the_sessions_sockets_at_once(self, amani: User) -> None:
        cookie = session_cookie(amani)
        uid, token = urlsafe_base64_encode(force_bytes(amani.pk)), default_token_generator.make_token(amani)

        def reset() -> None:
            browser = Client()
            form_url = browser.get(reverse("account:password_reset_confirm", args=[uid, token]))["Location"]
            response = browser.post(form_url, {"new_password1": "a fresh long passphrase 42",
                                               "new_password2": "a fresh long passphrase 42"})
            assert response.status_code == 302, response.content

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(reset)()
            assert await close_code(communicator) == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_role_grant_that_changes_nothing_keeps_the_socket(self, amani: User) -> None:
        local = make_local()
        role_grant(actor=None, user=amani, local=local, role="member")
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(role_grant)(actor=None, user=amani, local=local, role="member")
            assert await communicator.receive_json_from(timeout=2) == {"type": "roles.changed"}
            await database_sync_to_async(committed_notice)(amani.pk)
            assert await communicator.receive_json_from(timeout=2) == notice()
            await communicator.disconnect()

        run(scenario)


WINDOW = 0.3
# What the timer may add to the window: the database thread's answer and the event loop's turn.
SLACK = 1.5


@transactional
class TestLostEvents:
    """With the event lost, the timer's re-check closes the socket within the window, unprompted."""

    @pytest.fixture(autouse=True)
    def _short_window(self, settings: Any) -> None:
        use_window(settings, WINDOW)

    def test_a_revoked_session_closes_within_the_window(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            with lost_events():
                await database_sync_to_async(user_end_sessions)(actor=None, user=amani, reason="lost phone")
            code, _took = await closed_within(communicator, WINDOW + SLACK)
            assert code == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_deactivated_user_closes_within_the_window(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            with lost_events():
                await database_sync_to_async(user_deactivate)(actor=None, user=amani, reason="left the job")
            code, _took = await closed_within(communicator, WINDOW + SLACK)
            assert code == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_logged_out_session_closes_within_the_window(self, amani: User) -> None:
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(SessionStore(session_key(cookie)).delete)()
            code, _took = await closed_within(communicator, WINDOW + SLACK)
            assert code == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)

    def test_a_removed_officer_role_closes_within_the_window(self) -> None:
        local = make_local()
        steward = make_member(local, "steward")
        cookie = session_cookie(steward)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            with lost_events():
                await database_sync_to_async(role_revoke)(actor=None, user=steward, local=local)
            code, _took = await closed_within(communicator, WINDOW + SLACK)
            assert code == CLOSE_ACCESS_CHANGED
            await communicator.disconnect()

        run(scenario)

    def test_a_suspended_member_closes_within_the_window(self) -> None:
        local = make_local()
        member, organizer = make_member(local), make_member(local, "organizer")
        cookie = session_cookie(member)

        def suspend() -> None:
            target = Member.objects.get(user=member)
            member_set_status(actor=organizer, member=target, new=Member.Status.SUSPENDED, reason="test")

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            with lost_events():
                await database_sync_to_async(suspend)()
            code, _took = await closed_within(communicator, WINDOW + SLACK)
            assert code == CLOSE_ACCESS_CHANGED
            await communicator.disconnect()

        run(scenario)

    def test_an_officer_whose_second_factor_is_removed_closes_within_the_window(self) -> None:
        steward = make_member(make_local(), "steward")
        cookie = session_cookie(steward)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(lambda: Authenticator.objects.filter(user=steward).delete())()
            code, _took = await closed_within(communicator, WINDOW + SLACK)
            assert code == CLOSE_SESSION_ENDED
            await communicator.disconnect()

        run(scenario)


@transactional
class TestCachedCheck:
    def test_events_and_frames_cost_no_database_query(self, amani: User, settings: Any) -> None:
        use_window(settings, 60)
        cookie = session_cookie(amani)
        queries: list[str] = []

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries.append(sql)
            return execute(sql, params, many, context)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            assert queries, "the connect check reads the database (and this counter sees it)"
            queries.clear()
            layer = get_channel_layer()
            assert layer is not None
            for n in range(100):
                await layer.group_send(user_group(amani.pk), {"type": "notify.message", "kind": "k", "text": f"{n}"})
                await communicator.send_json_to({"type": "ping"})
            texts = []
            for _ in range(200):
                message = await communicator.receive_json_from(timeout=2)
                if message["type"] == "notify":
                    texts.append(message["text"])
            assert texts == [str(n) for n in range(100)]
            assert queries == []
            await communicator.disconnect()

        # The consumer's database calls run on this thread (thread-sensitive, under async_to_sync),
        # so a wrapper on this thread's connection sees every query they make.
        with connection.execute_wrapper(count):
            run(scenario)

    def test_the_number_of_rechecks_follows_time_not_traffic(self, amani: User, settings: Any) -> None:
        window = use_window(settings, 0.25)
        cookie = session_cookie(amani)
        checks = mock.Mock(wraps=consumers.check_sessions)
        frames = 0

        async def scenario() -> float:
            nonlocal frames
            communicator = await open_socket(cookie)
            started = time.monotonic()
            while time.monotonic() - started < 1.2:
                await communicator.send_json_to({"type": "ping"})
                assert await communicator.receive_json_from(timeout=2) == {"type": "pong"}
                frames += 1
            elapsed = time.monotonic() - started
            await communicator.disconnect()
            return elapsed

        with mock.patch("union.consumers.check_sessions", checks):
            elapsed = async_to_sync(scenario)()
        timer_checks = checks.call_count - 1  # the first one is the connect
        assert frames > 50
        assert 2 <= timer_checks <= elapsed / window + 1

    def test_one_recheck_covers_every_socket_in_a_fixed_number_of_queries(self, settings: Any) -> None:
        window = use_window(settings, 0.3)
        local = make_local()
        users = [make_member(local, handle=f"worker{n}") for n in range(20)]
        cookies = [session_cookie(user) for user in users]
        checks = mock.Mock(wraps=consumers.check_sessions)
        queries: list[str] = []

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries.append(sql)
            return execute(sql, params, many, context)

        async def scenario() -> None:
            communicators = [await open_socket(cookie) for cookie in cookies]
            checks.reset_mock()
            queries.clear()
            await asyncio.sleep(window * 2.5)  # two ticks of the timer, perhaps three
            ticks = checks.call_count
            assert ticks >= 2
            assert all(len(call.args[0]) == len(users) for call in checks.call_args_list)
            # Sessions, users, roles, statuses: four queries a tick for all twenty sockets.
            assert len(queries) <= 4 * ticks
            for communicator in communicators:
                await communicator.disconnect()

        with mock.patch("union.consumers.check_sessions", checks), connection.execute_wrapper(count):
            run(scenario)


def refuse_everyone(pairs: list[tuple[Any, Any]]) -> list[None]:
    """A session hook that refuses every socket (for the test below)."""
    return [None for _pair in pairs]


@transactional
class TestSessionHooks:
    def test_without_the_membership_hook_an_unverified_officer_is_let_in(self, settings: Any) -> None:
        # The core knows nothing of officers: the second-factor rule comes from the hook alone.
        steward = make_member(make_local(), "steward")
        settings.TESSERA_SESSION_CHECKS = []
        cookie = session_cookie(steward, verified=False)

        async def scenario() -> None:
            communicator = await open_socket(cookie)
            await database_sync_to_async(committed_notice)(steward.pk)
            assert await communicator.receive_json_from(timeout=2) == notice()
            await communicator.disconnect()

        run(scenario)

    def test_a_hook_that_refuses_closes_the_socket_with_4401(self, amani: User, settings: Any) -> None:
        settings.TESSERA_SESSION_CHECKS = [f"{__name__}.refuse_everyone"]
        cookie = session_cookie(amani)

        async def scenario() -> None:
            communicator = socket(cookie)
            await communicator.connect()
            assert await close_code(communicator) == CLOSE_UNAUTHORIZED
            await communicator.disconnect()

        run(scenario)


@transactional
class TestNotifyUsers:
    def test_it_delivers_to_many_users_each_in_their_own_words(self) -> None:
        users = [make_user(f"worker{n}") for n in range(30)]
        cookies = [session_cookie(user) for user in users]
        texts = {user.pk: f"Notice for worker {n}" for n, user in enumerate(users)}

        def send() -> None:
            with transaction.atomic():
                notify_users([u.pk for u in users], kind="grievance.update", text=texts, url="/grievances/")

        async def scenario() -> None:
            communicators = [await open_socket(cookie) for cookie in cookies]
            await database_sync_to_async(send)()
            for user, communicator in zip(users, communicators, strict=True):
                assert await communicator.receive_json_from(timeout=2) == notice(texts[user.pk], "/grievances/") | {
                    "kind": "grievance.update"}
                await communicator.disconnect()

        run(scenario)

    def test_one_text_for_everyone_and_nothing_from_a_rollback(self) -> None:
        users = [make_user(f"worker{n}") for n in range(3)]
        cookies = [session_cookie(user) for user in users]
        ids = [u.pk for u in users]

        def send() -> None:
            with pytest.raises(RuntimeError), transaction.atomic():
                notify_users(ids, kind="grievance.reply", text="Rolled back", url="/cases/1/")
                raise RuntimeError("the write failed")
            with transaction.atomic():
                notify_users(ids, kind="grievance.reply", text="A steward replied on your case", url="/cases/1/")

        async def scenario() -> None:
            communicators = [await open_socket(cookie) for cookie in cookies]
            await database_sync_to_async(send)()
            for communicator in communicators:
                assert await communicator.receive_json_from(timeout=2) == notice()
                assert await communicator.receive_nothing()
                await communicator.disconnect()

        run(scenario)

    def test_one_bad_notice_sends_none(self, django_capture_on_commit_callbacks: Any) -> None:
        with django_capture_on_commit_callbacks() as queued, pytest.raises(ValueError, match=re.escape(ERROR_NOTIFY_TEXT)):
            notify_users([1, 2], kind="grievance.reply", text={1: "Fine", 2: ""})
        assert queued == []


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
