"""Take the rule away: a steward who loses their role or their membership loses every case at once.

Each test assigns a restricted retaliation case to the steward (so nothing but the assignment
gives them access), stores evidence and a letter, takes away the right in one way, and then tries
every case URL as that steward: each answers 404 (or 403 where the page is visible but not
writable) and nothing in the case, its timeline, evidence, letters or audit log changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from django.forms import ModelChoiceField
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import get_perms

from grievances.models import AdverseAction, Event, Evidence, Grievance, Letter
from grievances.selectors import grievance_list_visible_to, my_cases
from grievances.services import evidence_upload, letter_issue
from membership.models import Member
from membership.roles import ROLE_PERMISSIONS, Role
from membership.self_service import member_resign
from membership.services import member_set_status, role_grant, role_revoke
from tests.base import Personas, login_as
from tests.grievances.factories import make_case
from union import files
from union.models import AuditEvent


def _member(p: Personas) -> Member:
    return Member.objects.get(user=p.steward)


# Each way of losing the right. "rejected (written directly)" and "suspended (written directly)"
# bypass the services, as a bulk update or the admin would: only the check at access time stops them.
LOSSES: dict[str, Callable[[Personas], Any]] = {
    "set back to member": lambda p: role_grant(actor=p.local_admin, user=p.steward, local=p.local, role="member"),
    "role revoked": lambda p: role_revoke(actor=p.local_admin, user=p.steward, local=p.local),
    "suspended": lambda p: member_set_status(actor=p.organizer, member=_member(p), new=Member.Status.SUSPENDED,
                                             reason="code of conduct"),
    "resigned": lambda p: member_resign(actor=p.steward, member=_member(p)),
    "dues lapsed": lambda p: member_set_status(actor=p.organizer, member=_member(p), new=Member.Status.LAPSED,
                                               reason="dues unpaid"),
    "rejected (written directly)": lambda p: Member.objects.filter(user=p.steward).update(
        status=Member.Status.REJECTED),
    "suspended (written directly)": lambda p: Member.objects.filter(user=p.steward).update(
        status=Member.Status.SUSPENDED),
}


@pytest.fixture
def case(personas: Personas) -> Any:
    grievance = make_case(personas, category="retaliation", confidentiality=Grievance.Confidentiality.RESTRICTED)
    evidence = evidence_upload(actor=personas.steward, grievance=grievance, name="log.txt", content=b"shift log\n")
    letter = letter_issue(actor=personas.steward, grievance=grievance, facts="The night shift went unpaid.")
    yield grievance, evidence, letter
    files.remove("evidence", evidence.storage_name)
    files.remove("documents", letter.document.storage_name)


def _snapshot(grievance: Grievance) -> tuple[Any, ...]:
    g = Grievance.objects.get(pk=grievance.pk)
    return (g.status, g.step_id, g.steward_id, g.outcome, g.due_date, Event.objects.filter(grievance=g).count(),
            Evidence.objects.filter(grievance=g).count(), Letter.objects.filter(grievance=g).count(),
            AdverseAction.objects.filter(grievance=g).count(), AuditEvent.objects.count())


def _requests(grievance: Grievance, evidence: Evidence, letter: Letter) -> list[tuple[str, str, dict[str, Any]]]:
    code = {"code": grievance.code}
    event = Event.objects.filter(grievance=grievance).first()
    assert event is not None
    gets = ["grievances:detail", "grievances:work_actions", "grievances:work_register", "grievances:work_evidence",
            "grievances:work_letters"]
    requests: list[tuple[str, str, dict[str, Any]]] = [("get", reverse(name, kwargs=code), {}) for name in gets]
    requests += [
        ("get", reverse("grievances:work_evidence_download", kwargs={"code": evidence.code}), {}),
        ("get", reverse("grievances:work_letter_download", kwargs={"code": letter.code}), {}),
        ("post", reverse("grievances:case_event_add", kwargs=code), {"kind": "note", "body": "still here"}),
        ("get", reverse("grievances:case_event_correct", kwargs={**code, "event": event.code}), {}),
        ("post", reverse("grievances:case_event_correct", kwargs={**code, "event": event.code}), {"body": "fix"}),
        ("post", reverse("grievances:work_advance", kwargs=code), {"step": "investigation",
                                                                   "triggered_on": "2026-01-05"}),
        ("post", reverse("grievances:work_close", kwargs=code), {"outcome": "withdrawn", "summary": "gone"}),
        ("post", reverse("grievances:work_adverse", kwargs=code), {"kind": "warning", "occurred_on": "2026-01-05",
                                                                   "description": "x"}),
        ("post", reverse("grievances:work_letter_issue", kwargs=code), {"facts": "A second letter."}),
    ]
    return requests


class TestAnAssignedStewardWhoLosesTheRight:
    def test_the_steward_works_the_case_before(self, personas: Personas, case: Any) -> None:
        grievance, evidence, letter = case
        client = login_as(Client(), personas.steward)
        for method, url, data in _requests(grievance, evidence, letter)[:7]:
            assert getattr(client, method)(url, data).status_code == 200, url
        assert list(my_cases(personas.steward)) == [grievance]

    @pytest.mark.parametrize("loss", list(LOSSES))
    def test_every_case_url_answers_404_and_nothing_changes(self, personas: Personas, case: Any, loss: str) -> None:
        grievance, evidence, letter = case
        LOSSES[loss](personas)
        before = _snapshot(grievance)
        client = login_as(Client(), personas.steward)
        for method, url, data in _requests(grievance, evidence, letter):
            response = getattr(client, method)(url, data)
            assert response.status_code == 404, (loss, method, url, response.status_code)
        upload = client.post(reverse("grievances:work_evidence_upload", kwargs={"code": grievance.code}),
                             {"file": _file()})
        assert upload.status_code == 404
        assert _snapshot(grievance) == before
        assert grievance.pk not in set(grievance_list_visible_to(personas.steward).values_list("pk", flat=True))
        assert not my_cases(personas.steward).exists()

    @pytest.mark.parametrize("loss", ["set back to member", "suspended", "resigned", "dues lapsed"])
    def test_the_stored_permissions_go_in_the_same_transaction(self, personas: Personas, loss: str) -> None:
        LOSSES[loss](personas)
        left = set(get_perms(personas.steward, personas.local))
        allowed = ROLE_PERMISSIONS[Role.MEMBER] if loss in ("set back to member", "dues lapsed") else set()
        assert left == set(allowed)

    @pytest.mark.parametrize("loss", ["set back to member", "suspended", "rejected (written directly)"])
    def test_they_are_no_longer_offered_as_a_steward(self, personas: Personas, case: Any, loss: str) -> None:
        from grievances.forms_work import AssignForm

        grievance = case[0]
        LOSSES[loss](personas)
        form = AssignForm(grievance=grievance)
        offered = cast(ModelChoiceField, form.fields["steward"]).queryset
        assert offered is not None and personas.steward not in offered
        response = login_as(Client(), personas.local_admin).post(
            reverse("grievances:work_assign", kwargs={"code": grievance.code}), {"steward": personas.steward.handle})
        assert response.status_code == 400

    def test_a_reinstated_steward_gets_the_case_back(self, personas: Personas, case: Any) -> None:
        LOSSES["suspended"](personas)
        member_set_status(actor=personas.organizer, member=_member(personas), new=Member.Status.ACTIVE,
                          reason="reinstated")
        response = login_as(Client(), personas.steward).get(reverse("grievances:detail",
                                                                    kwargs={"code": case[0].code}))
        assert response.status_code == 200


def _file() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("note.txt", b"more evidence\n", content_type="text/plain")


class TestOfficersLoseTheLocal:
    @pytest.mark.parametrize("status", [Member.Status.SUSPENDED, Member.Status.RESIGNED, Member.Status.REJECTED,
                                        Member.Status.LAPSED, Member.Status.PENDING])
    def test_an_officer_whose_membership_is_not_active_sees_no_roll_and_no_cases(
            self, personas: Personas, status: str) -> None:
        Member.objects.filter(user=personas.local_admin).update(status=status)
        client = login_as(Client(), personas.local_admin)
        assert client.get(reverse("membership:roll_list", kwargs={"local_code": personas.local.code})).status_code == 404
        case = make_case(personas)
        assert client.get(reverse("grievances:detail", kwargs={"code": case.code})).status_code == 404


class TestWhoMayFile:
    def _reject(self, p: Personas) -> Member:
        from membership.services import member_reject

        Member.objects.filter(user=p.member).update(status=Member.Status.PENDING)
        return member_reject(actor=p.organizer, member=Member.objects.get(user=p.member), reason="not a worker here")

    def test_a_rejected_applicant_cannot_file(self, personas: Personas) -> None:
        from grievances.defaults import ensure_defaults

        ensure_defaults(personas.local.union)
        self._reject(personas)
        client = login_as(Client(), personas.member)
        assert client.get(reverse("grievances:case_new")).status_code == 404
        response = client.post(reverse("grievances:case_new"), {"category": "pay", "title": "Unpaid",
                                                                "narrative": "x", "remedy": "y"})
        assert response.status_code == 404
        assert not Grievance.objects.exists()
        assert set(get_perms(personas.member, personas.local)) == set()

    @pytest.mark.parametrize("status", [Member.Status.APPLICANT, Member.Status.PENDING, Member.Status.SUSPENDED,
                                        Member.Status.RESIGNED, Member.Status.REJECTED])
    def test_only_active_and_lapsed_members_file(self, personas: Personas, status: str) -> None:
        Member.objects.filter(user=personas.member).update(status=status)
        assert login_as(Client(), personas.member).get(reverse("grievances:case_new")).status_code == 404

    def test_a_lapsed_member_still_files(self, personas: Personas) -> None:
        from grievances.defaults import ensure_defaults

        ensure_defaults(personas.local.union)
        member_set_status(actor=personas.organizer, member=Member.objects.get(user=personas.member),
                          new=Member.Status.LAPSED, reason="dues")
        assert login_as(Client(), personas.member).get(reverse("grievances:case_new")).status_code == 200

    def test_a_member_rejected_after_starting_a_draft_cannot_submit_it(self, personas: Personas) -> None:
        draft = make_case(personas, submit=False)
        Member.objects.filter(user=personas.member).update(status=Member.Status.REJECTED)
        client = login_as(Client(), personas.member)
        assert client.get(reverse("grievances:detail", kwargs={"code": draft.code})).status_code == 200
        assert client.post(reverse("grievances:case_submit", kwargs={"code": draft.code})).status_code == 403
        assert Grievance.objects.get(pk=draft.pk).status == Grievance.Status.DRAFT


class TestNoOfficerNewsAfterTheLoss:
    @pytest.mark.parametrize("loss", ["set back to member", "suspended", "rejected (written directly)"])
    def test_no_deadline_reminder_and_no_case_news(self, personas: Personas, loss: str,
                                                  django_capture_on_commit_callbacks: Any) -> None:
        from datetime import timedelta

        from django.core import mail
        from django.utils import timezone

        from grievances.models import Reminder
        from grievances.reminders import send_reminders
        from grievances.services import event_add

        case = make_case(personas)
        Grievance.objects.filter(pk=case.pk).update(due_date=timezone.localdate() + timedelta(days=1))
        LOSSES[loss](personas)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert send_reminders(timezone.localdate()) == 0
            event_add(actor=personas.local_admin, grievance=Grievance.objects.get(pk=case.pk), kind=Event.Kind.SHARED_NOTE,
                      body="met the vendor", shared=True)
        assert not Reminder.objects.exists()
        told = [address for message in mail.outbox for address in message.to]
        assert personas.member.email in told  # the grievant is told (the news went out)
        assert personas.steward.email not in told


class TestTheCaseNeedsANewSteward:
    """A case whose steward lost the right is not silently stuck: officers see it flagged and can filter."""

    FLAG = "Needs a new steward"

    def _list(self, p: Personas, query: str = "") -> str:
        return login_as(Client(), p.local_admin).get(reverse("grievances:case_list") + query).content.decode()

    def test_no_flag_while_the_steward_holds_the_role(self, personas: Personas) -> None:
        grievance = make_case(personas)
        assert self.FLAG not in self._list(personas)
        assert grievance.title not in self._list(personas, "?needs_steward=on")
        detail = login_as(Client(), personas.local_admin).get(reverse("grievances:detail", kwargs={"code": grievance.code}))
        assert self.FLAG not in detail.content.decode()

    @pytest.mark.parametrize("loss", ["set back to member", "suspended", "suspended (written directly)"])
    def test_flagged_and_filtered_once_the_role_is_gone(self, personas: Personas, loss: str) -> None:
        grievance = make_case(personas)
        unassigned = make_case(personas, assign=False)
        Grievance.objects.filter(pk=unassigned.pk).update(title="Nobody yet")
        kept = make_case(personas)
        Grievance.objects.filter(pk=kept.pk).update(steward=personas.local_admin, title="Still worked")
        LOSSES[loss](personas)
        assert self.FLAG in self._list(personas)
        needing = self._list(personas, "?needs_steward=on")
        assert needing.count('class="case-title"') == 2  # the stuck case and the unassigned one
        assert "Nobody yet" in needing and "Still worked" not in needing
        detail = login_as(Client(), personas.local_admin).get(reverse("grievances:detail", kwargs={"code": grievance.code}))
        assert self.FLAG in detail.content.decode()

    def test_a_grievant_never_sees_the_flag(self, personas: Personas) -> None:
        grievance = make_case(personas)
        role_revoke(actor=personas.local_admin, user=personas.steward, local=personas.local)
        page = login_as(Client(), personas.member).get(reverse("grievances:detail", kwargs={"code": grievance.code}))
        assert page.status_code == 200 and self.FLAG not in page.content.decode()
