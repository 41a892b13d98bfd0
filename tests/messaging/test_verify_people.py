"""Looking coworkers up to verify their identity keys (e2ee.md §4.3): the people API and the
verification pages. Only people who share a room with the viewer can be looked up; everyone else,
a malformed id and a stranger alike, is 404. Room policy: verified-only by default for every kind."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from membership.models import Member
from messaging import ur1
from messaging.client import Account, new_id16
from messaging.models import Room
from messaging.selectors import ur1_user_id
from messaging.services import device_list_publish, room_create
from tests.base import Personas, login_as
from tests.factories import make_unit
from tests.messaging.rooms import enroll, land, local_room

pytestmark = pytest.mark.django_db
API = "/api/messaging"


@pytest.fixture
def room(personas: Personas) -> dict[str, Any]:
    """The local's room with the organizer (admin) and the member; the steward is enrolled but not in it."""
    org, mem = (personas.organizer, enroll(personas.organizer)), (personas.member, enroll(personas.member))
    enroll(personas.steward)
    found = local_room(personas.organizer, personas.local)
    land(found, org, [(org[0], org[1], "admin"), (mem[0], mem[1], "member")])
    return {"room": found, "org": org[1], "mem": mem[1]}


def person(client: Client, user: Any) -> Any:
    return client.get(f"{API}/people/{ur1_user_id(user)}")


def test_it_gives_a_roommate_their_signed_device_list(room: dict[str, Any], personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    response = person(client, personas.organizer)
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
    body = response.json()
    assert body["user"] == ur1_user_id(personas.organizer)
    assert body["name"] == Member.objects.get(user=personas.organizer).pseudonym
    parsed = ur1.parse_device_list(body["device_list"])
    assert parsed.msk == room["org"].msk
    listed = client.get(f"{API}/people").json()["people"]
    assert listed == [{"user": ur1_user_id(personas.organizer), "name": body["name"]}]


def test_it_answers_404_to_anyone_who_shares_no_room(room: dict[str, Any], personas: Personas) -> None:
    # The steward is in the local and enrolled, but not in the room's commit: no lookup either way.
    steward = login_as(Client(), personas.steward)
    assert person(steward, personas.organizer).status_code == 404
    assert person(login_as(Client(), personas.member), personas.steward).status_code == 404
    assert steward.get(f"{API}/people").json() == {"people": []}
    outsider = login_as(Client(), personas.outsider)
    assert person(outsider, personas.member).status_code == 404
    assert outsider.get(reverse("messaging:verify_person", args=[ur1_user_id(personas.member)])).status_code == 404


def test_a_deactivated_roommate_is_404(room: dict[str, Any], personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    personas.organizer.is_active = False
    personas.organizer.save(update_fields=["is_active"])
    assert person(client, personas.organizer).status_code == 404


@pytest.mark.parametrize("bad", ["z" * 32, "0" * 31, "0" * 33, "A" * 32, "__proto__", "-"])
def test_bad_ids_are_404(room: dict[str, Any], personas: Personas, bad: str) -> None:
    client = login_as(Client(), personas.member)
    assert client.get(f"{API}/people/{bad}").status_code == 404
    assert client.get(f"/rooms/verify/{bad}/").status_code == 404


def test_logged_out_gets_401_from_the_api_and_the_login_page_from_the_pages(room: dict[str, Any],
                                                                                personas: Personas) -> None:
    client = Client()
    assert person(client, personas.organizer).status_code == 401
    assert client.get(f"{API}/people").status_code == 401
    for url in (reverse("messaging:safety_number"), reverse("messaging:verify"),
                reverse("messaging:verify_person", args=[ur1_user_id(personas.organizer)])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("account:login"))


def test_wrong_methods_are_refused(room: dict[str, Any], personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    assert client.post(f"{API}/people/{ur1_user_id(personas.organizer)}").status_code == 405
    assert client.post(reverse("messaging:verify")).status_code == 405


def test_the_pages_render_for_a_roommate(room: dict[str, Any], personas: Personas) -> None:
    client = login_as(Client(), personas.member)
    listing = client.get(reverse("messaging:verify"))
    assert listing.status_code == 200 and "no-cache" in listing["Cache-Control"]
    name = Member.objects.get(user=personas.organizer).pseudonym
    page = listing.content.decode()
    assert name in page and reverse("messaging:verify_person", args=[ur1_user_id(personas.organizer)]) in page
    one = client.get(reverse("messaging:verify_person", args=[ur1_user_id(personas.organizer)]))
    assert one.status_code == 200 and f'data-person="{ur1_user_id(personas.organizer)}"' in one.content.decode()
    own = client.get(reverse("messaging:verify_person", args=[ur1_user_id(personas.member)]))
    assert own.status_code == 302 and own["Location"] == reverse("messaging:safety_number")
    mine = client.get(reverse("messaging:safety_number")).content.decode()
    assert f'data-user="{ur1_user_id(personas.member)}"' in mine and '<meta name="csrf-token"' in mine
    assert "<script>" not in mine  # modules from static only (CSP script-src 'self')
    for html in (page, one.content.decode(), mine):
        assert "{#" not in html and "{%" not in html, "template syntax leaked into the page"
    assert reverse("messaging:safety_number") in client.get(reverse("account:home")).content.decode()


def test_a_person_before_enrolling_has_no_device_list(personas: Personas) -> None:
    org = (personas.organizer, enroll(personas.organizer))
    found = local_room(personas.organizer, personas.local)
    land(found, org, [(org[0], org[1], "admin")])
    client = login_as(Client(), personas.organizer)
    assert person(client, personas.organizer).json()["device_list"] is not None  # oneself
    assert client.get(f"{API}/people").json() == {"people": []}


def test_a_new_identity_key_is_what_the_lookup_gives(room: dict[str, Any], personas: Personas) -> None:
    """The server relays whatever the owner last signed: a new MSK shows up, for browsers to warn about."""
    client = login_as(Client(), personas.member)
    before = person(client, personas.organizer).json()["device_list"]["msk"]
    fresh = Account(user_id=ur1_user_id(personas.organizer), version=room["org"].version)
    device_list_publish(actor=personas.organizer, body=fresh.device_list())
    after = person(client, personas.organizer).json()["device_list"]
    assert after["msk"] != before and after["msk"] == ur1.b64u_encode(fresh.msk)


@pytest.mark.parametrize("kind", ["local", "unit", "committee"])
def test_organizing_rooms_are_verified_only_by_default(personas: Personas, kind: str) -> None:
    """The room's detail carries the flag to the browsers, which enforce it (verify.js)."""
    client = login_as(Client(), personas.organizer)
    parent = make_unit(personas.local).code if kind == "unit" else personas.local.code
    body = {"kind": kind, "parent": str(parent), "room_id": new_id16()}
    created = client.post(f"{API}/rooms", data=json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["verified_only"] is True
    if kind != "unit":  # the organizer is in no unit, so only a unit member could open its chain
        assert client.get(f"{API}/rooms/{created.json()['code']}").json()["verified_only"] is True


def test_grievance_rooms_are_verified_only_by_default_too() -> None:
    """By decision (messaging/models.py says why): the field's default and the API's agree."""
    from messaging.schemas import RoomCreateIn

    assert Room._meta.get_field("verified_only").default is True
    assert RoomCreateIn.model_fields["verified_only"].default is True


def test_a_room_can_be_opened_without_the_policy(personas: Personas) -> None:
    room_ = room_create(actor=personas.organizer, kind=Room.Kind.COMMITTEE, local=personas.local,
                        room_id=new_id16(), retention_days=90, verified_only=False)
    assert room_.verified_only is False
