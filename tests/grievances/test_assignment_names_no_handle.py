"""An assignment on a case's timeline names the steward by account id, resolved when shown."""

from __future__ import annotations

import importlib
import json

from django.apps import apps
from django.test import Client
from django.urls import reverse

from grievances.models import Event, Grievance
from grievances.services import grievance_assign
from membership.models import Member
from tests.base import Personas, login_as
from tests.factories import make_member, make_totp
from tests.grievances.factories import make_case

migration = importlib.import_module("grievances.migrations.0002_assignment_events_name_steward_by_id")


def assignments(case: Grievance) -> list[Event]:
    return list(Event.objects.filter(grievance=case, kind=Event.Kind.ASSIGNMENT).order_by("id"))


def test_the_event_keeps_the_id_not_the_handle(personas: Personas) -> None:
    case = make_case(personas)
    (event,) = assignments(case)
    assert event.data == {"steward_id": personas.steward.pk}
    assert personas.steward.handle not in json.dumps(event.data)


def test_the_timeline_shows_todays_pseudonym(personas: Personas) -> None:
    case = make_case(personas)
    Member.objects.filter(user=personas.steward).update(pseudonym="Night Queue Rep")
    html = login_as(Client(), personas.member).get(reverse("grievances:detail", kwargs={"code": case.code})).content
    assert "Steward: Night Queue Rep" in html.decode()
    assert personas.steward.handle not in html.decode()


def test_the_migration_replaces_handles_by_ids(personas: Personas) -> None:
    other = make_member(personas.local, "steward", handle="second.steward")
    make_totp(other)
    case = make_case(personas)
    grievance_assign(actor=personas.local_admin, grievance=case, steward=other)
    lone = make_case(personas, assign=False)
    grievance_assign(actor=personas.local_admin, grievance=lone, steward=other)
    # Rows as today's main writes them: the handle in the data.
    first, second = assignments(case)
    for event, user in ((first, personas.steward), (second, other)):
        Event.objects.filter(pk=event.pk).update(data={"steward": user.handle})
    (third,) = assignments(lone)
    Event.objects.filter(pk=third.pk).update(data={"steward": "nobody-has-this-handle-now"})
    # The first steward was erased since (renamed): only the audit log still knows who it was.
    personas.steward.handle = "erased-0123456789ab"
    personas.steward.save(update_fields=["handle"])

    migration.handles_to_ids(apps, None)

    assert [e.data for e in assignments(case)] == [{"steward_id": personas.steward.pk}, {"steward_id": other.pk}]
    # The audit log has one record for this case, and one event: matched by position.
    assert assignments(lone)[0].data == {"steward_id": other.pk}
    dump = json.dumps(list(Event.objects.values_list("data", flat=True)))
    assert "steward\"" not in dump.replace("steward_id\"", "") and "second.steward" not in dump


def test_the_migration_falls_back_to_the_handle_when_the_audit_log_disagrees(personas: Personas) -> None:
    case = make_case(personas)  # one assignment, one audit record
    Event.objects.filter(grievance=case, kind=Event.Kind.ASSIGNMENT).update(data={"steward": personas.steward.handle})
    Event.objects.create(grievance=case, kind=Event.Kind.ASSIGNMENT, shared=True, data={"steward": "gone.steward"})

    migration.handles_to_ids(apps, None)

    assert [e.data for e in assignments(case)] == [{"steward_id": personas.steward.pk}, {"steward_id": None}]
    html = login_as(Client(), personas.member).get(reverse("grievances:detail", kwargs={"code": case.code})).content
    assert "Steward: a union officer" in html.decode()
