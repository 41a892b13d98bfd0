"""A member's devices change (a new phone restored from the recovery key, a lost one revoked): the
room waits for a commit listing their current devices, and says so (§4.8: admin clients rotate
when they see a revocation; a device no commit lists cannot send).

`pending_changes(room)["devices"]` names who stays in the room but whose devices differ from the
head commit's; the room's detail and chat page show it; publishing a device list tells the open
pages of the rooms listing the publisher, and no other room."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from messaging import ur1
from messaging.client import Account, Peer, new_id16
from messaging.models import Commit, Room
from messaging.selectors import pending_changes, room_device_list_history, ur1_user_id
from messaging.services import commit_post, device_list_publish, room_create
from tests.base import Personas, build_personas, login_as
from tests.messaging.rooms import enroll, land, local_room, server_lists
from tests.messaging.test_roll_pending import frames_after, pending_codes
from tests.messaging.test_room_access_batch import cookie_of

API = "/api/messaging"


def world(p: Personas) -> dict[str, Any]:
    a, b = enroll(p.organizer), enroll(p.member)
    room = local_room(p.organizer, p.local)
    land(room, (p.organizer, a), [(p.organizer, a, "admin"), (p.member, b, "member")])
    return {"room": Room.objects.get(pk=room.pk), "a": a, "b": b}


def catch_up(p: Personas, room: Room, account: Account) -> None:
    chain = list(Commit.objects.filter(room=room).order_by("epoch").values_list("body", flat=True))
    history: dict[str, list[ur1.DeviceList]] = {}  # every version: old commits list revoked devices
    for found in room_device_list_history(room, {p.organizer.pk, p.member.pk}):
        history.setdefault(ur1_user_id(found.user), []).append(ur1.parse_device_list(found.body))
    account.catch_up(room.room_id, chain, history)


def rotate_with_lists(p: Personas, w: dict[str, Any]) -> None:
    """What an admin's browser does: a commit of the same people with their current device lists."""
    room, a = Room.objects.get(pk=w["room"].pk), w["a"]
    catch_up(p, room, a)
    newest = server_lists([p.member])[ur1_user_id(p.member)][-1]
    body, wraps, _es = a.make_commit(room.room_id, [(a, "admin"), (Peer.from_device_list(newest), "member")])
    commit_post(actor=p.organizer, room=room, body=body, wraps=wraps)
    catch_up(p, Room.objects.get(pk=room.pk), a)  # the author accepts its own commit, opens its wrap
    a.take_wrap(room.room_id, next(wrap for wrap in wraps if wrap["to_device"] == a.device_id))


def detail(user: Any, room: Room) -> dict[str, Any]:
    response = login_as(Client(), user).get(f"{API}/rooms/{room.code}")
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
def test_a_new_device_waits_for_a_commit_that_lists_it(personas: Personas) -> None:
    p = personas
    w = world(p)
    room, b = w["room"], w["b"]
    assert pending_changes(room)["devices"] == []
    phone = Account(user_id=b.user_id, msk_seed=b.msk_seed)  # restored from the recovery key
    device_list_publish(actor=p.member, body=b.device_list(devices=[b.device(), phone.device()]))
    assert pending_changes(room)["devices"] == [ur1_user_id(p.member)]
    assert detail(p.member, room)["pending_devices"] == [ur1_user_id(p.member)]  # members see it too
    page = login_as(Client(), p.organizer).get(f"/rooms/{room.code}/").content.decode()
    assert 'id="pending-devices">1<' in page and 'id="rotation" aria-labelledby="rotation-heading">' in page
    rotate_with_lists(p, w)
    room.refresh_from_db()
    assert pending_changes(room)["devices"] == []
    page = login_as(Client(), p.organizer).get(f"/rooms/{room.code}/").content.decode()
    assert 'id="pending-devices">0<' in page


@pytest.mark.django_db
def test_a_revoked_device_waits_for_a_commit_without_it(personas: Personas) -> None:
    p = personas
    w = world(p)
    room, b = w["room"], w["b"]
    phone = Account(user_id=b.user_id, msk_seed=b.msk_seed)
    device_list_publish(actor=p.member, body=b.device_list(devices=[b.device(), phone.device()]))
    rotate_with_lists(p, w)
    assert pending_changes(Room.objects.get(pk=room.pk))["devices"] == []
    device_list_publish(actor=p.member, body=b.device_list(devices=[phone.device()]))  # the first one is lost
    assert pending_changes(Room.objects.get(pk=room.pk))["devices"] == [ur1_user_id(p.member)]
    rotate_with_lists(p, w)
    head = Commit.objects.get(room=room, epoch=Room.objects.get(pk=room.pk).epoch)
    assert {d["device"] for d in head.body["devices"] if d["user"] == ur1_user_id(p.member)} == {phone.device_id}
    assert pending_changes(Room.objects.get(pk=room.pk))["devices"] == []


@pytest.mark.django_db
def test_someone_leaving_is_a_removal_not_a_device_change(personas: Personas) -> None:
    from membership.models import Member

    p = personas
    w = world(p)
    Member.objects.filter(user=p.member).update(status=Member.Status.SUSPENDED)
    b = w["b"]
    device_list_publish(actor=p.member, body=b.device_list(devices=[b.device(), Account(
        user_id=b.user_id, msk_seed=b.msk_seed).device()]))
    changes = pending_changes(Room.objects.get(pk=w["room"].pk))
    assert changes["remove"] == [ur1_user_id(p.member)] and changes["devices"] == []


@pytest.mark.django_db(transaction=True)
def test_publishing_a_device_list_tells_the_rooms_that_list_the_publisher_and_no_other() -> None:
    p = build_personas()
    w = world(p)
    b = w["b"]
    other_room = room_create(actor=p.organizer, kind=Room.Kind.COMMITTEE, local=p.local, room_id=new_id16(),
                             retention_days=90, verified_only=True)  # not started: lists nobody
    cookie = cookie_of(p.organizer)

    def new_phone() -> None:
        device_list_publish(actor=p.member, body=b.device_list(devices=[b.device(), Account(
            user_id=b.user_id, msk_seed=b.msk_seed).device()]))

    def stranger_enrolls() -> None:  # in no room yet
        enroll(p.representative)

    told = pending_codes(async_to_sync(frames_after)(cookie, new_phone))
    assert told == {str(w["room"].code)} and str(other_room.code) not in told
    assert pending_codes(async_to_sync(frames_after)(cookie, stranger_enrolls)) == set()



@pytest.mark.django_db
def test_an_epoch_is_due_for_new_keys_after_seven_days_or_ten_thousand_messages(personas: Personas,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from messaging import selectors
    from messaging.services import message_post

    p = personas
    w = world(p)
    room, a = w["room"], w["a"]
    assert not selectors.rotation_due(room)
    assert detail(p.member, room)["rotation_due"] is False
    head = Commit.objects.get(room=room, epoch=room.epoch)
    assert not selectors.rotation_due(room, now=head.created_at + timedelta(days=6, hours=23))
    assert selectors.rotation_due(room, now=head.created_at + timedelta(days=7))
    Commit.objects.filter(pk=head.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert detail(p.member, room)["rotation_due"] is True
    page = login_as(Client(), p.organizer).get(f"/rooms/{room.code}/").content.decode()
    assert '<span id="rotation-due">' in page  # shown, not hidden
    rotate_with_lists(p, w)  # a new epoch: its keys are new
    room.refresh_from_db()
    assert not selectors.rotation_due(room)
    # The message count, scaled down (10,000 rows would only slow the suite): due at the threshold.
    monkeypatch.setattr(selectors, "ROTATE_AFTER_MESSAGES", 3)
    for n in range(3):
        assert not selectors.rotation_due(room)
        message_post(actor=p.organizer, room=room, envelope=a.seal(room.room_id, {"type": "text", "text": f"m{n}"}))
    assert selectors.rotation_due(room)
