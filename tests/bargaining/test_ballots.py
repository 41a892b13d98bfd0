"""Secret-ballot ratification (service layer): eligibility, one vote each, secrecy, results at the close."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from bargaining.ballots import ballot_close, ballot_open, ballot_result, published_receipts, vote_cast
from bargaining.models import Ballot, Eligibility, Vote
from membership.models import Member
from tests.bargaining.factories import make_campaign
from tests.base import Personas, build_personas, login_as
from tests.factories import make_member
from tests.services import need
from union.models import AuditEvent


@pytest.mark.django_db
def test_eligible_voters_are_the_active_members_of_the_units_when_it_opens(personas: Personas) -> None:
    campaign = make_campaign(personas)  # the member and the steward work in its unit
    lapsed = make_member(personas.local)
    Member.objects.filter(user=lapsed).update(unit=campaign.units.get(), status=Member.Status.LAPSED)
    ballot = ballot_open(actor=personas.representative, campaign=campaign)
    assert set(ballot.eligible.values_list("user_id", flat=True)) == {personas.member.pk, personas.steward.pk}
    assert ballot.eligible_count == 2
    late = make_member(personas.local)
    Member.objects.filter(user=late).update(unit=campaign.units.get())
    with pytest.raises(ValidationError):
        vote_cast(voter=late, ballot=ballot, choice="yes")
    with pytest.raises(ValidationError):
        vote_cast(voter=personas.outsider, ballot=ballot, choice="yes")
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_one_vote_each_results_hidden_until_close_receipts_published(personas: Personas) -> None:
    ballot = ballot_open(actor=personas.representative, campaign=make_campaign(personas), quorum_percent=50)
    receipt = vote_cast(voter=personas.member, ballot=ballot, choice="yes")
    with pytest.raises(ValidationError):
        vote_cast(voter=personas.member, ballot=ballot, choice="no")
    with pytest.raises(ValidationError):
        vote_cast(voter=personas.steward, ballot=ballot, choice="maybe")
    assert Vote.objects.count() == 1
    with pytest.raises(ValidationError):
        ballot_result(ballot)
    closed = ballot_close(actor=personas.representative, ballot=ballot)
    assert closed.result == {"counts": {"yes": 1, "no": 0, "abstain": 0}, "cast": 1, "eligible": 2,
                             "quorum_met": True, "carried": True}
    assert (receipt, "yes") in published_receipts(closed)
    with pytest.raises(ValidationError):
        vote_cast(voter=personas.steward, ballot=closed, choice="no")
    assert AuditEvent.objects.filter(action="bargaining.ballot_close").get().details["cast"] == 1


@pytest.mark.django_db
def test_quorum_not_met_does_not_carry(personas: Personas) -> None:
    ballot = ballot_open(actor=personas.representative, campaign=make_campaign(personas), quorum_percent=100)
    vote_cast(voter=personas.member, ballot=ballot, choice="yes")
    result = ballot_close(actor=personas.representative, ballot=ballot).result
    assert result is not None
    assert result["carried"] is False


@pytest.mark.django_db
def test_nothing_joins_a_vote_to_its_voter(personas: Personas) -> None:
    ballot = ballot_open(actor=personas.representative, campaign=make_campaign(personas))
    vote_cast(voter=personas.member, ballot=ballot, choice="no")
    # The schema: a vote has the ballot, the choice and a receipt; no user, no time, a random key.
    assert {f.name for f in Vote._meta.get_fields()} == {"id", "ballot", "choice", "receipt"}
    assert Vote._meta.pk is not None and Vote._meta.pk.get_internal_type() == "UUIDField"
    # The has-voted record has no time either.
    assert {f.name for f in Eligibility._meta.get_fields()} == {"id", "ballot", "user", "has_voted"}
    # The audit trail records no vote and nothing that carries the choice or the receipt.
    vote = Vote.objects.get()
    trail = " ".join(str(e.details) + e.action + e.target_id for e in AuditEvent.objects.all())
    assert "vote" not in trail.replace("ballot", "") and vote.receipt not in trail and str(vote.id) not in trail


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_ballot_attempted_twice_at_once_counts_once() -> None:
    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL): SQLite serializes writers")
    personas = build_personas()
    ballot = ballot_open(actor=personas.representative, campaign=make_campaign(personas))
    barrier, receipts, refused = threading.Barrier(6), [], []

    def cast() -> None:
        try:
            barrier.wait()
            receipts.append(vote_cast(voter=personas.member, ballot=ballot, choice="yes"))
        except ValidationError:
            refused.append(1)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=cast) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receipts) == 1 and len(refused) == 5
    assert Vote.objects.filter(ballot=ballot).count() == 1
    assert Ballot.objects.get(pk=ballot.pk).eligible.filter(has_voted=True).count() == 1


@pytest.mark.django_db
class TestBallotPages:
    def test_open_vote_close_and_find_the_receipt(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        rep, member = login_as(Client(), personas.representative), login_as(Client(), personas.member)
        response = rep.post(reverse("bargaining:ballot_new", kwargs={"code": campaign.code}),
                            {"quorum_percent": 50, "threshold_percent": 50})
        ballot = Ballot.objects.get()
        assert response.status_code == 302 and ballot.eligible_count == 2
        page = member.post(reverse("bargaining:ballot_vote", kwargs={"code": ballot.code}), {"choice": "yes"})
        receipt = Vote.objects.get().receipt
        assert page.status_code == 200 and receipt in page.content.decode()
        again = member.post(reverse("bargaining:ballot_vote", kwargs={"code": ballot.code}), {"choice": "no"})
        assert again.status_code == 400 and Vote.objects.count() == 1
        # The result stays hidden while open.
        assert b"<h2>Result</h2>" not in member.get(reverse("bargaining:ballot_detail", kwargs={"code": ballot.code})).content
        assert member.post(reverse("bargaining:ballot_close", kwargs={"code": ballot.code})).status_code == 403
        assert rep.post(reverse("bargaining:ballot_close", kwargs={"code": ballot.code})).status_code == 302
        closed = member.get(reverse("bargaining:ballot_detail", kwargs={"code": ballot.code})).content.decode()
        assert "<strong>Carried</strong>" in closed and receipt in closed

    def test_bad_choice_and_outsiders_change_nothing(self, personas: Personas) -> None:
        ballot = ballot_open(actor=personas.representative, campaign=make_campaign(personas))
        url = reverse("bargaining:ballot_vote", kwargs={"code": ballot.code})
        assert login_as(Client(), personas.member).post(url, {"choice": "maybe"}).status_code == 400
        assert login_as(Client(), personas.outsider).post(url, {"choice": "yes"}).status_code == 404
        # The organizer cannot see the campaign: 404, not "not eligible".
        assert login_as(Client(), personas.organizer).post(url, {"choice": "yes"}).status_code == 404
        # The representative reads the campaign but is in no unit of it: not eligible.
        assert login_as(Client(), personas.representative).post(url, {"choice": "yes"}).status_code == 400
        assert not Vote.objects.exists() and not Eligibility.objects.filter(has_voted=True).exists()
