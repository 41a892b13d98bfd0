"""The rooms' JSON API end to end with real UR1 clients: enroll, open a room, commit, fetch wraps,
send and read messages; outsiders, wrong roles, bad input, stale commits, CSRF and the OpenAPI document."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from messaging import ur1
from messaging.client import Account, new_id16
from messaging.models import Commit, Device, Message, Room, Wrap
from messaging.selectors import ur1_user_id
from tests.base import Personas, login_as

pytestmark = pytest.mark.django_db
API = "/api/messaging"


def call(client: Client, method: str, path: str, body: Any = None) -> Any:
    kwargs: dict[str, Any] = {} if body is None else {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method)(API + path, **kwargs)


def enroll_over_api(client: Client, user: Any) -> Account:
    account = Account(user_id=ur1_user_id(user))
    response = call(client, "post", "/devices", account.device_list())
    assert response.status_code == 201, response.content
    return account


def lists(client: Client, code: Any) -> dict[str, list[ur1.DeviceList]]:
    found = call(client, "get", f"/rooms/{code}/device-lists").json()["device_lists"]
    return {dl["user"]: [ur1.parse_device_list(dl)] for dl in found}


def sync(client: Client, account: Account, room: dict[str, Any]) -> None:
    """What a client does on (re)connecting: accept new commits, then open its new wraps."""
    commits = call(client, "get", f"/rooms/{room['code']}/commits").json()["commits"]
    account.catch_up(room["room_id"], commits, lists(client, room["code"]))
    wraps = call(client, "get", f"/wraps?device={account.device_id}").json()["wraps"]
    head = account.rooms[room["room_id"]].head
    assert head is not None
    account.take_wrap(room["room_id"], next(w for w in wraps if w["epoch"] == head.commit.epoch))


@pytest.fixture
def setting(personas: Personas) -> dict[str, Any]:
    org = login_as(Client(), personas.organizer)
    mem = login_as(Client(), personas.member)
    a, b = enroll_over_api(org, personas.organizer), enroll_over_api(mem, personas.member)
    created = call(org, "post", "/rooms", {"kind": "local", "parent": str(personas.local.code), "room_id": new_id16()})
    assert created.status_code == 201, created.content
    room = created.json()
    assert ur1_user_id(personas.member) in room["pending_add"]
    body, wraps, _ = a.make_commit(room["room_id"], [(a, "admin")])
    assert call(org, "post", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps}).status_code == 201
    sync(org, a, room)
    body, wraps, _ = a.make_commit(room["room_id"], [(a, "admin"), (b, "member")])
    assert call(org, "post", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps}).status_code == 201
    sync(org, a, room)
    sync(mem, b, room)
    return {"org": org, "mem": mem, "a": a, "b": b, "room": room}


def test_it_carries_a_conversation(setting: dict[str, Any]) -> None:
    org, mem, a, b, room = (setting[k] for k in ("org", "mem", "a", "b", "room"))
    code = room["code"]
    for n in range(3):
        sent = call(mem, "post", f"/rooms/{code}/messages", b.seal(room["room_id"], {"type": "text", "text": f"m{n}"}))
        assert sent.status_code == 201 and sent.json() == {"seq": n + 1}
    page = call(org, "get", f"/rooms/{code}/messages?after=1&limit=1").json()
    assert [m["seq"] for m in page["messages"]] == [2] and page["last_seq"] == 3
    texts = [json.loads(a.open(room["room_id"], m["envelope"]).body)["text"]
             for m in call(org, "get", f"/rooms/{code}/messages?after=0").json()["messages"]]
    assert texts == ["m0", "m1", "m2"]
    listed = call(org, "get", "/rooms").json()["rooms"]
    assert [(r["code"], r["joined"], r["unread"]) for r in listed] == [(code, True, 3)]
    assert call(org, "post", f"/rooms/{code}/read", {"seq": 2}).json() == {"read_seq": 2}
    assert call(org, "get", "/rooms").json()["rooms"][0]["unread"] == 1
    detail = call(mem, "get", f"/rooms/{code}").json()
    assert detail["epoch"] == 1 and detail["admins"] == [a.user_id]
    # The local's other members are due to join: the page can say a rotation is pending, and who can do it.
    assert b.user_id not in detail["pending_add"] and len(detail["pending_add"]) == 3


def test_outsiders_get_404_and_members_cannot_open_rooms(setting: dict[str, Any], personas: Personas) -> None:
    code = setting["room"]["code"]
    outsider = login_as(Client(), personas.outsider)
    for path in (f"/rooms/{code}", f"/rooms/{code}/messages", f"/rooms/{code}/commits",
                 f"/rooms/{code}/device-lists", f"/rooms/{uuid.uuid4()}"):
        assert call(outsider, "get", path).status_code == 404
    assert call(outsider, "get", "/rooms").json() == {"rooms": []}
    # A plain member sees the local but may not open its room: 403; another local's: 404.
    body = {"kind": "committee", "parent": str(personas.local.code), "room_id": new_id16()}
    assert call(setting["mem"], "post", "/rooms", body).status_code == 403
    body["parent"] = str(personas.other_local.code)
    assert call(login_as(Client(), personas.organizer), "post", "/rooms", body).status_code == 404
    assert Room.objects.count() == 1


def test_wraps_go_only_to_their_device(setting: dict[str, Any]) -> None:
    mem, a, b = setting["mem"], setting["a"], setting["b"]
    assert call(mem, "get", f"/wraps?device={a.device_id}").status_code == 404
    mine = call(mem, "get", f"/wraps?device={b.device_id}").json()["wraps"]
    assert mine and all(w["to_device"] == b.device_id for w in mine)


def test_a_stale_commit_gets_409_and_changes_nothing(setting: dict[str, Any], personas: Personas) -> None:
    org, a, b, room = setting["org"], setting["a"], setting["b"], setting["room"]
    first, first_wraps, _ = a.make_commit(room["room_id"], [(a, "admin"), (b, "member")])
    second, second_wraps, _ = a.make_commit(room["room_id"], [(a, "admin")])
    assert call(org, "post", f"/rooms/{room['code']}/commits", {"commit": first, "wraps": first_wraps}).status_code == 201
    stale = call(org, "post", f"/rooms/{room['code']}/commits", {"commit": second, "wraps": second_wraps})
    assert stale.status_code == 409 and "fetch the latest commit" in stale.json()["detail"]
    assert Commit.objects.filter(room__code=room["code"]).count() == 3 and Wrap.objects.filter(epoch=2).count() == 2


@pytest.mark.parametrize("change", ["extra", "string_int", "bool_v", "big", "bad_b64", "not_json"])
def test_bad_input_gets_400_and_changes_nothing(setting: dict[str, Any], change: str) -> None:
    mem, b, room = setting["mem"], setting["b"], setting["room"]
    envelope = b.seal(room["room_id"], {"type": "text", "text": "x"})
    bad = {"extra": {**envelope, "preview": "x"}, "string_int": {**envelope, "epoch": "1"},
           "bool_v": {**envelope, "v": True}, "big": {**envelope, "ct": "A" * (91 * 1024)},
           "bad_b64": {**envelope, "n": "AAAAAAAAAAAAAAA="}, "not_json": None}[change]
    if bad is None:
        response = mem.post(f"{API}/rooms/{room['code']}/messages", data="{", content_type="application/json")
    else:
        response = call(mem, "post", f"/rooms/{room['code']}/messages", bad)
    assert response.status_code == 400
    assert "AAAAAAAA" not in response.content.decode()  # errors say where, never echo the value
    assert Message.objects.count() == 0 and Room.objects.get().last_seq == 0


def test_device_revocation_and_reuse(setting: dict[str, Any]) -> None:
    mem, b = setting["mem"], setting["b"]
    other = Account(user_id=b.user_id, msk_seed=b.msk_seed)
    assert call(mem, "post", "/devices", b.device_list(devices=[other.device()])).status_code == 201
    assert Device.objects.get(device_id=b.device_id).revoked_at is not None
    again = call(mem, "post", "/devices", b.device_list(devices=[b.device(), other.device()]))
    assert again.status_code == 400 and "cannot be used again" in again.json()["detail"]
    # A revoked device fetches no wraps any more.
    assert call(mem, "get", f"/wraps?device={b.device_id}").status_code == 404


def test_backup_round_trip(setting: dict[str, Any], personas: Personas) -> None:
    mem = setting["mem"]
    params = ur1.new_params()
    assert call(mem, "put", "/backup/params", {"params": params}).json() == {"params": params}
    weak = call(mem, "put", "/backup/params", {"params": {**params, "it": 1000}})
    assert weak.status_code == 400
    assert call(mem, "get", "/backup/params").json() == {"params": params}
    bk = ur1.backup_key(ur1.derive_root("correct horse", params), ur1_user_id(personas.member))
    item = ur1.seal_item(bk, ur1_user_id(personas.member), "msk", {"seed": "x"})
    assert call(mem, "put", "/backup/items", item).status_code == 200
    got = call(mem, "get", "/backup/items").json()["items"]
    assert ur1.open_item(bk, ur1_user_id(personas.member), got[0]) == {"seed": "x"}
    assert call(setting["org"], "get", "/backup/items").json() == {"items": []}


def test_unsafe_methods_need_the_csrf_token(personas: Personas) -> None:
    client = login_as(Client(enforce_csrf_checks=True), personas.member)
    account = Account(user_id=ur1_user_id(personas.member))
    assert call(client, "post", "/devices", account.device_list()).status_code == 403
    assert Device.objects.count() == 0


def test_the_openapi_document_is_generated_from_the_schemas(client: Client) -> None:
    doc = client.get(f"{API}/openapi.json").json()
    assert "/api/messaging/rooms/{code}/commits" in doc["paths"]
    envelope = doc["components"]["schemas"]["Envelope"]
    assert envelope["additionalProperties"] is False and set(envelope["required"]) >= {"ct", "n", "sender"}


def test_officers_make_committees_and_seat_members(personas: Personas) -> None:
    from membership.models import Member

    org = login_as(Client(), personas.organizer)
    mem = login_as(Client(), personas.member)
    a = enroll_over_api(org, personas.organizer)
    b = enroll_over_api(mem, personas.member)
    created = call(org, "post", "/rooms", {"kind": "committee", "parent": str(personas.local.code),
                                           "room_id": new_id16()})
    assert created.status_code == 201
    room = created.json()
    body, wraps, _ = a.make_commit(room["room_id"], [(a, "admin")])
    assert call(org, "post", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps}).status_code == 201
    member_code = str(Member.objects.get(user=personas.member).code)
    seated = call(org, "post", f"/rooms/{room['code']}/seats", {"member": member_code, "seated": True})
    assert seated.status_code == 200 and seated.json()["pending_add"] == [ur1_user_id(personas.member)]
    # Seated but not yet in a commit, the member sees the room as pending and cannot read it.
    assert call(mem, "get", "/rooms").json()["rooms"][0]["joined"] is False
    assert call(mem, "get", f"/rooms/{room['code']}").status_code == 404
    # Someone from another local cannot be seated (404), a non-admin cannot seat (404: not in the room).
    other = str(Member.objects.get(user=personas.outsider).code)
    assert call(org, "post", f"/rooms/{room['code']}/seats", {"member": other, "seated": True}).status_code == 404
    assert call(mem, "post", f"/rooms/{room['code']}/seats", {"member": member_code, "seated": False}).status_code == 404
    assert call(org, "post", f"/rooms/{room['code']}/seats", {"member": member_code, "seated": "yes"}).status_code == 400
    assert Room.objects.get(code=room["code"]).seats.count() == 2
    # Once committed in, the member reads the room but, not being an officer, may not seat anyone: 403.
    sync(org, a, room)
    body, wraps, _ = a.make_commit(room["room_id"], [(a, "admin"), (b, "member")])
    assert call(org, "post", f"/rooms/{room['code']}/commits", {"commit": body, "wraps": wraps}).status_code == 201
    assert call(mem, "get", f"/rooms/{room['code']}").status_code == 200
    assert call(mem, "post", f"/rooms/{room['code']}/seats", {"member": member_code, "seated": False}).status_code == 403
    assert Room.objects.get(code=room["code"]).seats.count() == 2


def test_a_grievance_room_holds_the_grievants_and_the_assigned_steward(personas: Personas) -> None:
    from membership.services import role_grant
    from messaging.selectors import room_entitled_users
    from tests.grievances.factories import make_case

    case = make_case(personas)
    steward = login_as(Client(), personas.steward)
    enroll_over_api(steward, personas.steward)
    body = {"kind": "grievance", "parent": str(case.code), "room_id": new_id16()}
    # The grievant and other officers may not open it (403 for those who see the case), outsiders 404.
    assert call(login_as(Client(), personas.member), "post", "/rooms", body).status_code == 403
    assert call(login_as(Client(), personas.outsider), "post", "/rooms", body).status_code == 404
    created = call(steward, "post", "/rooms", body)
    assert created.status_code == 201
    room = Room.objects.get(code=created.json()["code"])
    assert set(room_entitled_users(room)) == {personas.member, personas.steward}
    # A steward set back to member no longer belongs in the case's room.
    role_grant(actor=None, user=personas.steward, local=personas.local, role="member")
    assert set(room_entitled_users(room)) == {personas.member}


def test_an_admin_seals_the_room_name_and_only_members_read_it(setting: dict[str, Any], personas: Personas) -> None:
    org, mem, a, b, room = (setting[k] for k in ("org", "mem", "a", "b", "room"))
    code, rid = room["code"], room["room_id"]
    name = {"name": "Strike fund " + uuid.uuid4().hex, "topic": "who pays what"}
    blob = a.seal_meta(rid, name)
    saved = call(org, "put", f"/rooms/{code}/meta", blob)
    assert saved.status_code == 200 and saved.json()["meta"] == blob
    assert name["name"] not in json.dumps(Room.objects.get().meta)
    # A member reads it under K_m, from the detail and from the room list.
    assert b.open_meta(rid, call(mem, "get", f"/rooms/{code}").json()["meta"]) == name
    assert call(mem, "get", "/rooms").json()["rooms"][0]["meta"] == blob
    # A plain member may not name the room (403), even with a well-formed blob (its client refuses to make one).
    forged = {**blob, "sender": {"user": b.user_id, "device": b.device_id}}
    assert call(mem, "put", f"/rooms/{code}/meta", forged).status_code == 403
    with pytest.raises(ur1.UR1Error):
        b.seal_meta(rid, name)
    # An outsider: 404. Bad shapes: 400, without the value echoed. Nothing changed.
    assert call(login_as(Client(), personas.outsider), "put", f"/rooms/{code}/meta", blob).status_code == 404
    for bad in ({**blob, "name": name["name"]}, {**blob, "epoch": "1"}, {**blob, "ct": blob["ct"][:-4]},
                {**blob, "room": new_id16()}, {**blob, "sender": {"user": a.user_id, "device": new_id16()}}):
        response = call(org, "put", f"/rooms/{code}/meta", bad)
        assert response.status_code == 400 and name["name"] not in response.content.decode()
    assert Room.objects.get().meta == blob
    # After a rotation the old epoch's blob is stale (409) and members refuse it; the admin seals it again.
    sync(org, a, room)
    body, wraps, _ = a.make_commit(rid, [(a, "admin"), (b, "member")])
    assert call(org, "post", f"/rooms/{code}/commits", {"commit": body, "wraps": wraps}).status_code == 201
    sync(org, a, room)
    sync(mem, b, room)
    assert call(org, "put", f"/rooms/{code}/meta", blob).status_code == 409
    with pytest.raises(ur1.UR1Error):
        b.open_meta(rid, blob)
    fresh = a.seal_meta(rid, name)
    assert call(org, "put", f"/rooms/{code}/meta", fresh).status_code == 200
    assert b.open_meta(rid, call(mem, "get", f"/rooms/{code}").json()["meta"]) == name
