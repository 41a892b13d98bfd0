"""Who sees which case: grievants, the assigned steward, the local's officers, restricted cases."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from grievances.models import Grievance
from grievances.permissions import GRIEVANT, OFFICER, access_grievance, can_see_event, viewer_level
from grievances.selectors import grievance_list_visible_to, my_cases
from grievances.services import event_add
from tests.base import Personas
from tests.factories import make_member
from tests.grievances.factories import make_case

ALL = ("member", "steward", "organizer", "representative", "local_admin", "outsider")


def levels(p: Personas, case: Grievance) -> dict[str, str | None]:
    return {who: viewer_level(p.get(who), case) for who in ALL}


class TestVisibility:
    def test_a_normal_case(self, personas: Personas) -> None:
        case = make_case(personas)
        assert levels(personas, case) == {
            "member": GRIEVANT, "steward": OFFICER, "organizer": OFFICER, "representative": OFFICER,
            "local_admin": OFFICER, "outsider": None,
        }

    def test_a_restricted_case(self, personas: Personas) -> None:
        case = make_case(personas, assign=False, confidentiality=Grievance.Confidentiality.RESTRICTED)
        assert levels(personas, case) == {
            "member": GRIEVANT, "steward": None, "organizer": None, "representative": None,
            "local_admin": OFFICER, "outsider": None,
        }
        from grievances.services import grievance_assign

        grievance_assign(actor=personas.local_admin, grievance=case, steward=personas.steward)
        case.refresh_from_db()
        assert viewer_level(personas.steward, case) == OFFICER
        assert viewer_level(personas.organizer, case) is None

    def test_a_draft_is_seen_only_by_whoever_filed_it(self, personas: Personas) -> None:
        case = make_case(personas, submit=False)
        assert levels(personas, case) == {
            "member": GRIEVANT, "steward": None, "organizer": None, "representative": None,
            "local_admin": None, "outsider": None,
        }

    def test_another_member_of_the_local_sees_nothing(self, personas: Personas) -> None:
        case = make_case(personas)
        coworker = make_member(personas.local)
        assert viewer_level(coworker, case) is None

    def test_a_deactivated_steward_sees_nothing(self, personas: Personas) -> None:
        case = make_case(personas)
        personas.steward.is_active = False
        assert viewer_level(personas.steward, case) is None


class TestAccess:
    def test_missing_and_hidden_look_the_same(self, personas: Personas) -> None:
        case = make_case(personas)
        for code in (case.code, uuid.uuid4()):
            with pytest.raises(Http404):
                access_grievance(personas.outsider, code)

    def test_read_only_officers_and_grievants_cannot_write(self, personas: Personas) -> None:
        case = make_case(personas)
        for who in ("member", "representative"):
            with pytest.raises(PermissionDenied):
                access_grievance(personas.get(who), case.code, for_write=True)
        for who in ("steward", "local_admin"):
            assert access_grievance(personas.get(who), case.code, for_write=True)[1] == OFFICER

    def test_an_organizer_without_manage_grievances_reads_only(self, personas: Personas) -> None:
        case = make_case(personas)
        with pytest.raises(PermissionDenied):
            access_grievance(personas.organizer, case.code, for_write=True)

    def test_grievants_never_see_internal_notes(self, personas: Personas) -> None:
        case = make_case(personas)
        note = event_add(actor=personas.steward, grievance=case, kind="note", body="Our strategy")
        shared = event_add(actor=personas.steward, grievance=case, kind="shared_note", body="Meeting on Friday")
        assert not can_see_event(GRIEVANT, note) and can_see_event(GRIEVANT, shared)
        assert can_see_event(OFFICER, note)


class TestSelectors:
    def test_lists_match_the_rules(self, personas: Personas) -> None:
        normal = make_case(personas)
        restricted = make_case(personas, assign=False, confidentiality=Grievance.Confidentiality.RESTRICTED)
        draft = make_case(personas, submit=False)

        def visible(who: str) -> set[int]:
            return set(grievance_list_visible_to(personas.get(who)).values_list("pk", flat=True))

        assert visible("member") == {normal.pk, restricted.pk, draft.pk}
        assert visible("steward") == {normal.pk}
        assert visible("representative") == {normal.pk}
        assert visible("local_admin") == {normal.pk, restricted.pk}
        assert visible("outsider") == set()
        assert list(my_cases(personas.steward)) == [normal]

    def test_my_cases_are_sorted_by_next_deadline(self, personas: Personas) -> None:
        from datetime import date

        later, sooner = make_case(personas), make_case(personas)
        Grievance.objects.filter(pk=later.pk).update(due_date=date(2027, 2, 1))
        Grievance.objects.filter(pk=sooner.pk).update(due_date=date(2027, 1, 5))
        assert list(my_cases(personas.steward)) == [sooner, later]
