"""The rooms' pages: the list (/rooms/) and the chat shell (/rooms/<code>/).

Both are thin: access through messaging/permissions.py (404 for an outsider or a room one is not
in), labels from the union's structure, unread counts from read markers, and a JSON block with the
public metadata chat.js needs and every string it shows, translated. No plaintext, room name or
key ever passes through them; no inline script.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from membership.models import Member
from messaging.client import new_id16
from messaging.models import Room
from messaging.selectors import ur1_user_id
from messaging.services import commit_post, message_post, read_mark
from messaging.texts import chat_texts
from tests.base import Personas, login_as
from tests.factories import make_local
from tests.messaging.rooms import enroll, land, local_room

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas: Personas) -> dict[str, Any]:
    org, member = personas.organizer, personas.member
    a, b = enroll(org), enroll(member)
    room = local_room(org, personas.local)
    land(room, (org, a), [(org, a, "admin"), (member, b, "member")])
    return {"room": room, "a": a, "b": b}


def data_block(response: Any) -> dict[str, Any]:
    found = re.search(rb'<script id="room-data" type="application/json">(.*?)</script>', response.content, re.S)
    assert found, "the page carries its JSON block"
    return json.loads(found.group(1))


def test_it_lists_rooms_with_unread_counts(personas: Personas, world: dict[str, Any]) -> None:
    room, a = world["room"], world["a"]
    for text in ("one", "two", "three"):
        message_post(actor=personas.organizer, room=room, envelope=a.seal(room.room_id, {"type": "text", "text": text}))
    read_mark(actor=personas.member, room=Room.objects.get(pk=room.pk), seq=1)
    response = login_as(Client(), personas.member).get("/rooms/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'href="/rooms/{room.code}/"' in page
    assert "2 unread" in page
    assert personas.local.name in page  # the label comes from the union's structure
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    assert "<script>" not in page and "<script type=\"module\" src=" in page


def test_a_member_the_roll_adds_sees_who_can_add_them(personas: Personas, world: dict[str, Any]) -> None:
    """The steward is entitled (a member of the local) but in no commit: no link, and the admins named."""
    response = login_as(Client(), personas.steward).get("/rooms/")
    page = response.content.decode()
    room = world["room"]
    assert f"/rooms/{room.code}/" not in page
    pseudonym = Member.objects.get(user=personas.organizer).pseudonym
    assert "An admin&#x27;s browser must add you" in page or "An admin's browser must add you" in page
    assert pseudonym in page


def test_the_outsider_sees_no_room(personas: Personas, world: dict[str, Any]) -> None:
    response = login_as(Client(), personas.outsider).get("/rooms/")
    assert response.status_code == 200
    assert str(world["room"].code) not in response.content.decode()
    assert "You are in no room yet" in response.content.decode()


def test_the_chat_page_is_a_shell_with_public_metadata(personas: Personas, world: dict[str, Any]) -> None:
    room = world["room"]
    response = login_as(Client(), personas.member).get(f"/rooms/{room.code}/")
    assert response.status_code == 200
    data = data_block(response)
    assert data["code"] == str(room.code) and data["roomId"] == room.room_id
    assert data["me"] == ur1_user_id(personas.member)
    names = {Member.objects.get(user=u).pseudonym for u in (personas.organizer, personas.member)}
    assert set(data["people"].values()) >= names
    assert data["texts"] == json.loads(json.dumps(chat_texts()))
    page = response.content.decode()
    assert '<meta name="csrf-token"' in page
    assert re.search(r"<script(?![^>]*(type=\"module\" src=|type=\"application/json\"))", page) is None
    # Steward, representative and local admin are entitled but not in the commit: pending adds.
    assert 'id="pending-add">3<' in page
    assert 'id="rotate"' in page


def test_the_chat_page_names_only_people_the_reader_was_in_the_room_with(personas: Personas,
                                                                          world: dict[str, Any]) -> None:
    p, room, a, b = personas, world["room"], world["a"], world["b"]
    rep, admin = enroll(p.representative), enroll(p.local_admin)
    # Epoch 1 (above): organizer and member. Epoch 2: the representative joins. Epoch 3: the member
    # leaves. Epoch 4: the local admin joins, after the member had gone.
    land(room, (p.organizer, a), [(p.organizer, a, "admin"), (p.member, b, "member"), (p.representative, rep, "member")])
    land(room, (p.organizer, a), [(p.organizer, a, "admin"), (p.representative, rep, "member")])
    # (Posted as land() does, without the newcomer's catching up: the test helper gives a client the
    # device lists of the current members only, not of the member who left before it came.)
    body, wraps, _es = a.make_commit(room.room_id, [(a, "admin"), (rep, "member"), (admin, "member")])
    commit_post(actor=p.organizer, room=Room.objects.get(pk=room.pk), body=body, wraps=wraps)

    def people(user: Any) -> dict[str, str]:
        response = login_as(Client(), user).get(f"/rooms/{room.code}/")
        assert response.status_code == 200
        return data_block(response)["people"]

    pseudonym = {u.pk: Member.objects.get(user=u).pseudonym
                 for u in (p.organizer, p.member, p.representative, p.local_admin)}
    # The representative shared epoch 2 with the member, who is still named for them (old messages).
    assert people(p.representative) == {ur1_user_id(u): pseudonym[u.pk]
                                        for u in (p.organizer, p.member, p.representative, p.local_admin)}
    # The local admin never shared an epoch with the member: not named, not even by code.
    assert people(p.local_admin) == {ur1_user_id(u): pseudonym[u.pk]
                                     for u in (p.organizer, p.representative, p.local_admin)}
    # Someone erased from the roll, or moved to another local, is not named either (their messages
    # show as from someone no longer in the room).
    Member.objects.filter(user=p.representative).update(erased_at=timezone.now())
    Member.objects.filter(user=p.organizer).update(local=make_local(name="Elsewhere"))
    assert people(p.local_admin) == {ur1_user_id(p.local_admin): pseudonym[p.local_admin.pk]}


def test_the_chat_strings_are_translated(personas: Personas, world: dict[str, Any]) -> None:
    client = login_as(Client(), personas.member)
    client.cookies["django_language"] = "fr"
    with translation.override("fr"):
        expected = chat_texts()
    response = client.get(f"/rooms/{world['room'].code}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert data_block(response)["texts"] == expected
    assert response.content.decode().count('lang="fr"') >= 1


@pytest.mark.parametrize("who", ["outsider", "steward"])
def test_a_room_one_is_not_in_is_404(personas: Personas, world: dict[str, Any], who: str) -> None:
    """The outsider (another local) and the steward (entitled, but no commit has them yet)."""
    response = login_as(Client(), getattr(personas, who)).get(f"/rooms/{world['room'].code}/")
    assert response.status_code == 404


def test_a_missing_room_is_404_and_anonymous_goes_to_log_in(personas: Personas, world: dict[str, Any]) -> None:
    assert login_as(Client(), personas.member).get(f"/rooms/{uuid.uuid4()}/").status_code == 404
    response = Client().get(f"/rooms/{world['room'].code}/")
    assert response.status_code == 302 and "/account/login/" in response["Location"]


def test_only_get(personas: Personas, world: dict[str, Any]) -> None:
    client = login_as(Client(), personas.member)
    assert client.post("/rooms/").status_code == 405
    assert client.post(f"/rooms/{world['room'].code}/").status_code == 405


def test_a_suspended_member_loses_the_page(personas: Personas, world: dict[str, Any]) -> None:
    Member.objects.filter(user=personas.member).update(status="suspended")
    response = login_as(Client(), personas.member).get(f"/rooms/{world['room'].code}/")
    assert response.status_code == 404


def test_before_genesis_only_its_admins_may_start_it(personas: Personas) -> None:
    room = local_room(personas.organizer, personas.local)
    page = login_as(Client(), personas.organizer).get(f"/rooms/{room.code}/")
    assert page.status_code == 200 and 'data-may-start="yes"' in page.content.decode()
    assert login_as(Client(), personas.member).get(f"/rooms/{room.code}/").status_code == 404


def test_the_home_page_links_members_to_their_rooms(personas: Personas) -> None:
    assert 'href="/rooms/"' in login_as(Client(), personas.member).get("/").content.decode()
    Member.objects.filter(user=personas.member).update(status="suspended")
    assert 'href="/rooms/"' not in login_as(Client(), personas.member).get("/").content.decode()


def test_the_page_and_its_data_hold_no_plaintext(personas: Personas, world: dict[str, Any]) -> None:
    room, a = world["room"], world["a"]
    message_post(actor=personas.organizer, room=room,
                 envelope=a.seal(room.room_id, {"type": "text", "text": "CANARY-5e1f0a77"}))
    for path in ("/rooms/", f"/rooms/{room.code}/"):
        assert b"CANARY" not in login_as(Client(), personas.member).get(path).content
    assert Room.objects.filter(pk=room.pk, meta={}).exists()


def test_organizers_are_offered_the_rooms_nobody_opened_yet(personas: Personas) -> None:
    org = login_as(Client(), personas.organizer)
    page = org.get("/rooms/").content.decode()
    assert "Open a room" in page
    assert f'data-kind="local" data-parent="{personas.local.code}"' in page
    assert f'data-kind="committee" data-parent="{personas.local.code}"' in page
    room = local_room(personas.organizer, personas.local)
    page = org.get("/rooms/").content.decode()
    assert 'data-kind="local"' not in page  # one room per local: it exists now
    # The organizer may open the unstarted room to start it; a member sees it, without a link.
    assert f'href="/rooms/{room.code}/"' in page and "You can start it" in page
    member_page = login_as(Client(), personas.member).get("/rooms/").content.decode()
    assert "Open a room" not in member_page and f'href="/rooms/{room.code}/"' not in member_page
    assert "It has not been started yet" in member_page
    assert "Open a room" not in login_as(Client(), personas.outsider).get("/rooms/").content.decode()


def test_the_assigned_steward_is_offered_the_case_room(personas: Personas) -> None:
    from membership.services import role_grant
    from messaging.services import room_create
    from tests.grievances.factories import make_case

    case = make_case(personas)
    offer = f'data-kind="grievance" data-parent="{case.code}"'
    steward = login_as(Client(), personas.steward)
    page = steward.get("/rooms/").content.decode()
    assert offer in page and f"Grievance {case.number}: its grievants and you" in page
    # Not the grievant, not another officer, not an outsider.
    for other in (personas.member, personas.organizer, personas.outsider):
        assert offer not in login_as(Client(), other).get("/rooms/").content.decode()
    # Once the room exists it is no longer offered; nor is it to a steward who lost the role.
    room_create(actor=personas.steward, kind=Room.Kind.GRIEVANCE, local=personas.local, grievance=case,
                room_id="AAAAAAAAAAAAAAAAAAAAAA", retention_days=90, verified_only=True)
    assert offer not in steward.get("/rooms/").content.decode()
    other_case = make_case(personas)
    role_grant(actor=None, user=personas.steward, local=personas.local, role="member")
    assert f'data-parent="{other_case.code}"' not in steward.get("/rooms/").content.decode()



def _unstarted_rooms(personas: Personas, committees: int, *, local: bool = True) -> list[Room]:
    """The local's room (if `local`) and `committees` committees (the organizer opened them all), and
    a case's room opened by its steward: none started yet."""
    from messaging.services import room_create
    from tests.grievances.factories import make_case

    rooms = [local_room(personas.organizer, personas.local)] if local else []
    rooms += [room_create(actor=personas.organizer, kind=Room.Kind.COMMITTEE, local=personas.local,
                          room_id=new_id16(), retention_days=90, verified_only=True) for _ in range(committees)]
    rooms.append(room_create(actor=personas.steward, kind=Room.Kind.GRIEVANCE, local=personas.local,
                             grievance=make_case(personas), room_id=new_id16(), retention_days=90, verified_only=True))
    return rooms


def test_the_rooms_page_asks_the_same_queries_whatever_the_number_of_unstarted_rooms(personas: Personas) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging.services import room_create

    _unstarted_rooms(personas, committees=1)
    org = login_as(Client(), personas.organizer)
    org.get("/rooms/")  # the session, content types and permissions are cached after a first page
    with CaptureQueriesContext(connection) as few:
        page = org.get("/rooms/").content.decode()
    assert page.count("You can start it") == 2
    for _ in range(6):
        room_create(actor=personas.organizer, kind=Room.Kind.COMMITTEE, local=personas.local,
                    room_id=new_id16(), retention_days=90, verified_only=True)
    with CaptureQueriesContext(connection) as many:
        page = org.get("/rooms/").content.decode()
    assert page.count("You can start it") == 8
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_batch_start_rule_answers_as_the_one_room_rule(personas: Personas, world: dict[str, Any]) -> None:
    from messaging.permissions import can_start_room, rooms_user_may_start

    rooms = [*_unstarted_rooms(personas, committees=2, local=False), Room.objects.get(pk=world["room"].pk)]
    everyone = [personas.member, personas.steward, personas.organizer, personas.representative,
                personas.local_admin, personas.outsider]
    allowed = refused = 0
    for user in everyone:
        batch = rooms_user_may_start(user, rooms)
        for room in rooms:
            one = can_start_room(user, room)
            assert (room.pk in batch) == one, (user.handle, room.kind)
            allowed, refused = allowed + one, refused + (not one)
    assert allowed and refused, "the sample holds both answers"
    assert world["room"].pk not in rooms_user_may_start(personas.organizer, rooms)  # started already
