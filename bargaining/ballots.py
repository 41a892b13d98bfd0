"""Secret-ballot ratification: open, vote once, close and publish. Services (keyword-only, atomic).

What holds:
- Eligible voters are the active members of the campaign's units when the ballot opens (a snapshot:
  joining afterwards gives no vote, leaving afterwards takes none away).
- One vote each, under concurrency: the voter's Eligibility row is locked (SELECT ... FOR UPDATE)
  and its flag checked and set in the transaction that writes the vote.
- Secrecy by schema: the Vote row has no voter, no time, a random key and a random receipt; the
  Eligibility row records only that its user voted, not when. The audit log records the opening
  and the close (turnout, result), never a vote, so it holds no "who voted when" to join against.
- Results stay hidden until the close (`ballot_result` refuses an open ballot).

What this cannot hide (documented, not solved here): someone who watches the database live (or the
server's memory, or its query log) while people vote can see which row appears after which
request; PostgreSQL keeps rows in insertion order on disk, so a copy of the table files taken
together with web-server access logs may still order votes in time. Receipts printed with their
choice let a voter prove how they voted to someone who coerces them.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bargaining.models import Ballot, Campaign, Demand, Eligibility, Vote
from membership.models import Member, User
from union.audit import audit_record

ERR_NOT_ELIGIBLE = _("You are not an eligible voter in this ballot.")
ERR_ALREADY_VOTED = _("You have already voted in this ballot.")
ERR_CLOSED = _("This ballot is closed.")
ERR_STILL_OPEN = _("The result is published when the ballot closes.")
ERR_PERCENT = _("Quorum and threshold are percentages between 1 and 100.")


@transaction.atomic
def ballot_open(*, actor: User, campaign: Campaign, demand: Demand | None = None, quorum_percent: int = 50,
                threshold_percent: int = 50) -> Ballot:
    """Open a ballot; the caller checked that `actor` edits the campaign."""
    if not (1 <= quorum_percent <= 100 and 1 <= threshold_percent <= 100):
        raise ValidationError(ERR_PERCENT)
    if demand is not None and demand.campaign_id != campaign.pk:
        raise ValidationError(_("That demand belongs to another campaign."))
    voters = (Member.objects.filter(local=campaign.local, unit__in=campaign.units.all(), status=Member.Status.ACTIVE,
                                    user__isnull=False, user__is_active=True, erased_at__isnull=True)
              .values_list("user_id", flat=True).distinct())
    ballot = Ballot.objects.create(campaign=campaign, demand=demand, quorum_percent=quorum_percent,
                                   threshold_percent=threshold_percent)
    Eligibility.objects.bulk_create([Eligibility(ballot=ballot, user_id=user_id) for user_id in voters])
    ballot.eligible_count = ballot.eligible.count()
    ballot.save(update_fields=["eligible_count"])
    audit_record(actor, "bargaining.ballot_open", ballot, local_id=campaign.local_id, campaign=str(campaign.code),
                 eligible=ballot.eligible_count)
    return ballot


@transaction.atomic
def vote_cast(*, voter: User, ballot: Ballot, choice: str) -> str:
    """Record one secret vote; returns the voter's receipt code (shown once, kept by nobody else)."""
    if choice not in Vote.Choice.values:
        raise ValidationError(_("Choose yes, no or abstain."))
    ballot = Ballot.objects.select_for_update().get(pk=ballot.pk)
    if ballot.status != Ballot.Status.OPEN:
        raise ValidationError(ERR_CLOSED)
    # The lock serialises two requests of one voter: the second waits, then sees the flag.
    eligibility = Eligibility.objects.select_for_update().filter(ballot=ballot, user=voter).first()
    if eligibility is None:
        raise ValidationError(ERR_NOT_ELIGIBLE)
    if eligibility.has_voted:
        raise ValidationError(ERR_ALREADY_VOTED)
    eligibility.has_voted = True
    eligibility.save(update_fields=["has_voted"])
    receipt = secrets.token_hex(8).upper()
    Vote.objects.create(ballot=ballot, choice=choice, receipt=receipt)
    # No audit record per vote: it would put "this user acted at this time" beside the votes.
    return receipt


@transaction.atomic
def ballot_close(*, actor: User, ballot: Ballot) -> Ballot:
    """Close, count and publish: turnout, quorum, threshold, the result; audited."""
    ballot = Ballot.objects.select_for_update().get(pk=ballot.pk)
    if ballot.status != Ballot.Status.OPEN:
        raise ValidationError(ERR_CLOSED)
    counts = {choice: ballot.votes.filter(choice=choice).count() for choice in Vote.Choice.values}
    cast = sum(counts.values())
    decided = counts["yes"] + counts["no"]
    quorum_met = ballot.eligible_count > 0 and cast * 100 >= ballot.quorum_percent * ballot.eligible_count
    carried = quorum_met and decided > 0 and counts["yes"] * 100 > ballot.threshold_percent * decided
    ballot.result = {"counts": counts, "cast": cast, "eligible": ballot.eligible_count,
                     "quorum_met": quorum_met, "carried": carried}
    ballot.status, ballot.closed_at = Ballot.Status.CLOSED, timezone.now()
    ballot.save(update_fields=["result", "status", "closed_at"])
    audit_record(actor, "bargaining.ballot_close", ballot, local_id=ballot.campaign.local_id, **ballot.result)
    return ballot


def ballot_result(ballot: Ballot) -> dict[str, Any]:
    if ballot.status != Ballot.Status.CLOSED or ballot.result is None:
        raise ValidationError(ERR_STILL_OPEN)
    return ballot.result


def published_receipts(ballot: Ballot) -> list[tuple[str, str]]:
    """(receipt, choice) sorted by receipt, after the close: each voter finds their own."""
    ballot_result(ballot)
    return list(ballot.votes.order_by("receipt").values_list("receipt", "choice"))
