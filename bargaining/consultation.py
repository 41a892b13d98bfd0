"""Consultation: comments and endorsements on demands, and the priorities survey. Services
(keyword-only, atomic); the caller checked access (bargaining/permissions.py).

Anonymity, and what it is worth (the pages say the same in plain words):
- Survey answers. An anonymous survey stores each response with no respondent, no time and a
  random key; who has answered is a separate `Participation` row with no time and no link to the
  answers (the ballot's design, bargaining/ballots.py). No audit record per response. Nothing in
  the database joins a member to their answers, even for someone holding the server's keys. The
  same limits as the ballot remain: someone watching the live server while people answer can
  match requests to rows.
- Comments and endorsements. A member must be able to edit or delete their anonymous comment and
  withdraw their anonymous endorsement, and a member endorses a demand once. So the row keeps a
  keyed hash (HMAC-SHA256 under a sub-key of the blind-index key, which lives outside the database)
  of the member's id and the comment's code or the demand. A copy of the database (a backup, a
  dump) names nobody; but whoever holds the running server with its keys can compute the hash for
  every member and find the author. Anonymous comments and endorsements are not audited (an audit
  row would name the actor). Anonymous comment times are kept to the hour.
- Moderation sees no more than anyone else: a representative hides an anonymous comment without
  learning who wrote it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bargaining.models import (
    Campaign,
    Comment,
    Demand,
    Endorsement,
    Participation,
    Survey,
    SurveyAnswer,
    SurveyResponse,
)
from membership.models import Member, User
from union.audit import audit_record
from union.crypto import derived_key

COMMENT_MAX = 2000
REASON_MAX = 500
EDIT_WINDOW = timedelta(hours=24)
COMMENTS_PER_MEMBER_PER_DEMAND = 20
DOTS_MAX = 50
# A ranking asks for a full order; past this many demands it stops being a fair question on a phone.
RANKING_MAX_DEMANDS = 20
# Comments and endorsements are part of drafting and consultation; from ratification on the text is fixed.
OPEN_STAGES = frozenset({Campaign.Stage.DRAFTING, Campaign.Stage.CONSULTATION})

ERR_STAGE = _("Comments and endorsements are closed: the demands have gone to ratification.")
ERR_EMPTY = _("Write something before posting.")
ERR_TOO_LONG = _("A comment is at most 2000 characters.")
ERR_TOO_MANY = _("You have written many comments on this demand already. Edit one of them instead.")
ERR_NOT_AUTHOR = _("Only the author may change this comment.")
ERR_EDIT_WINDOW = _("A comment can be edited for 24 hours after it is posted.")
ERR_HIDDEN = _("A hidden comment cannot be edited. You may still delete it.")
ERR_REASON = _("Give a short reason (at most 500 characters): the author and the members will see it.")
ERR_SURVEY_STAGE = _("Open the survey once the campaign is in consultation.")
ERR_SURVEY_OPEN = _("A survey of this campaign is already open. Close it first.")
ERR_NO_DEMANDS = _("Add at least two demands before asking members to prioritise them.")
ERR_TOO_MANY_TO_RANK = _("Ranking works for up to 20 demands. Use dot-voting for more.")
ERR_DOTS = _("Give each member between 1 and 50 dots.")
ERR_CLOSED = _("This survey is closed.")
ERR_NOT_ELIGIBLE = _("Only members of the campaign's bargaining units answer this survey.")
ERR_ALREADY = _("You have already answered this survey.")
ERR_ANSWERS = _("Answer for each demand of the survey.")
ERR_RANKS = _("Give each rank once: each demand its own number, from 1 to the number of demands.")
ERR_DOTS_SPENT = _("You have more dots on the demands than you were given.")
ERR_NO_DOTS = _("Place at least one dot.")


def _tag(purpose: str, *parts: object) -> str:
    key = derived_key(f"bargaining.{purpose}")
    return hmac.new(key, "\x00".join(str(p) for p in parts).encode(), hashlib.sha256).hexdigest()


def comment_tag(comment: Comment, user: Any) -> str:
    return _tag("comment-author", comment.code, user.pk)


def endorsement_tag(demand: Demand, user: Any) -> str:
    return _tag("endorsement", demand.pk, user.pk)


def is_comment_author(comment: Comment, user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if comment.anonymous:
        return bool(comment.author_tag) and hmac.compare_digest(comment.author_tag, comment_tag(comment, user))
    return comment.author_id == user.pk


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationError(ERR_EMPTY)
    if len(body) > COMMENT_MAX:
        raise ValidationError(ERR_TOO_LONG)
    return body


def _check_stage(campaign: Campaign) -> None:
    if campaign.stage not in OPEN_STAGES:
        raise ValidationError(ERR_STAGE)


# -- Comments ----------------------------------------------------------------------------------


@transaction.atomic
def comment_add(*, author: User, demand: Demand, body: str, anonymous: bool = False) -> Comment:
    """Post a comment; the caller checked that `author` reads the demand's campaign."""
    demand = Demand.objects.select_for_update().select_related("campaign").get(pk=demand.pk)
    _check_stage(demand.campaign)
    body = _clean_body(body)
    named = Comment.objects.filter(demand=demand, author=author).count()
    unnamed = sum(is_comment_author(c, author) for c in Comment.objects.filter(demand=demand, anonymous=True))
    if named + unnamed >= COMMENTS_PER_MEMBER_PER_DEMAND:
        raise ValidationError(ERR_TOO_MANY)
    now = timezone.now()
    comment = Comment(demand=demand, body=body, anonymous=anonymous, author=None if anonymous else author,
                      created_at=now.replace(minute=0, second=0, microsecond=0) if anonymous else now)
    if anonymous:
        comment.author_tag = comment_tag(comment, author)
    comment.full_clean()
    comment.save()
    if not anonymous:
        audit_record(author, "bargaining.comment_add", comment, local_id=demand.campaign.local_id)
    return comment


def _own_comment(actor: User, comment: Comment) -> Comment:
    comment = Comment.objects.select_for_update().select_related("demand__campaign").get(pk=comment.pk)
    if not is_comment_author(comment, actor):
        raise ValidationError(ERR_NOT_AUTHOR)
    return comment


@transaction.atomic
def comment_edit(*, actor: User, comment: Comment, body: str) -> Comment:
    comment = _own_comment(actor, comment)
    _check_stage(comment.demand.campaign)
    if comment.hidden:
        raise ValidationError(ERR_HIDDEN)
    if timezone.now() - comment.created_at > EDIT_WINDOW + (timedelta(hours=1) if comment.anonymous else timedelta()):
        raise ValidationError(ERR_EDIT_WINDOW)
    body = _clean_body(body)
    if body == comment.body:
        return comment
    comment.body, comment.edited = body, True
    comment.save(update_fields=["body", "edited"])
    if not comment.anonymous:
        audit_record(actor, "bargaining.comment_edit", comment, local_id=comment.demand.campaign.local_id)
    return comment


@transaction.atomic
def comment_delete(*, actor: User, comment: Comment) -> None:
    """The author removes their comment for good (hidden ones too): the row is deleted."""
    comment = _own_comment(actor, comment)
    if not comment.anonymous:
        audit_record(actor, "bargaining.comment_delete", comment, local_id=comment.demand.campaign.local_id)
    comment.delete()


@transaction.atomic
def comment_hide(*, actor: User, comment: Comment, reason: str) -> Comment:
    """A representative or admin hides a comment with a reason everyone reading the demand sees."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ValidationError(ERR_REASON)
    comment = Comment.objects.select_for_update().select_related("demand__campaign").get(pk=comment.pk)
    comment.hidden, comment.hidden_by, comment.hidden_reason = True, actor, reason
    comment.save(update_fields=["hidden", "hidden_by", "hidden_reason"])
    # The reason is on the (encrypted) comment; the record names the comment and nothing it says.
    audit_record(actor, "bargaining.comment_hide", comment, local_id=comment.demand.campaign.local_id,
                 anonymous=comment.anonymous)
    return comment


@transaction.atomic
def comment_restore(*, actor: User, comment: Comment) -> Comment:
    comment = Comment.objects.select_for_update().select_related("demand__campaign").get(pk=comment.pk)
    comment.hidden, comment.hidden_by, comment.hidden_reason = False, None, None
    comment.save(update_fields=["hidden", "hidden_by", "hidden_reason"])
    audit_record(actor, "bargaining.comment_restore", comment, local_id=comment.demand.campaign.local_id)
    return comment


# -- Endorsements ------------------------------------------------------------------------------


def endorsement_of(user: Any, demand: Demand) -> Endorsement | None:
    return Endorsement.objects.filter(demand=demand, tag=endorsement_tag(demand, user)).first()


@transaction.atomic
def endorsement_toggle(*, user: User, demand: Demand, anonymous: bool = False) -> bool:
    """Endorse the demand, or withdraw the endorsement already given; returns True when endorsed now.

    One per member and demand, named or not: both kinds carry the same keyed tag, which is unique
    per demand, and the demand row is locked so two clicks at once toggle twice, not "endorse twice".
    """
    demand = Demand.objects.select_for_update().select_related("campaign").get(pk=demand.pk)
    _check_stage(demand.campaign)
    existing = endorsement_of(user, demand)
    if existing is not None:
        if existing.user_id is not None:
            audit_record(user, "bargaining.endorsement_withdraw", demand, local_id=demand.campaign.local_id)
        existing.delete()
        return False
    try:
        with transaction.atomic():
            Endorsement.objects.create(demand=demand, user=None if anonymous else user,
                                       tag=endorsement_tag(demand, user))
    except IntegrityError:  # a concurrent request of the same member, on a database without the lock
        return True
    if not anonymous:
        audit_record(user, "bargaining.endorsement_add", demand, local_id=demand.campaign.local_id)
    return True


# -- The priorities survey ---------------------------------------------------------------------


def eligible_respondents(campaign: Campaign) -> Any:
    """User ids of the members (active or lapsed) of the campaign's units who have an account."""
    return (Member.objects.filter(local=campaign.local, unit__in=campaign.units.all(),
                                  status__in=[Member.Status.ACTIVE, Member.Status.LAPSED], user__isnull=False,
                                  user__is_active=True, erased_at__isnull=True)
            .values_list("user_id", flat=True).distinct())


@transaction.atomic
def survey_open(*, actor: User, campaign: Campaign, method: str, dots: int = 0, anonymous: bool = True) -> Survey:
    """Open the campaign's priorities survey on its demands as they are now."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.stage != Campaign.Stage.CONSULTATION:
        raise ValidationError(ERR_SURVEY_STAGE)
    if campaign.surveys.filter(status=Survey.Status.OPEN).exists():
        raise ValidationError(ERR_SURVEY_OPEN)
    if method not in Survey.Method.values:
        raise ValidationError(_("Choose ranking or dot-voting."))
    demands = list(campaign.demands.order_by("number"))
    if len(demands) < 2:
        raise ValidationError(ERR_NO_DEMANDS)
    if method == Survey.Method.RANKING:
        if len(demands) > RANKING_MAX_DEMANDS:
            raise ValidationError(ERR_TOO_MANY_TO_RANK)
        dots = 0
    elif not 1 <= dots <= DOTS_MAX:
        raise ValidationError(ERR_DOTS)
    survey = Survey.objects.create(campaign=campaign, method=method, dots=dots, anonymous=anonymous)
    survey.demands.set(demands)
    audit_record(actor, "bargaining.survey_open", survey, local_id=campaign.local_id, method=method, dots=dots,
                 anonymous=anonymous, demands=len(demands))
    return survey


def validate_answers(survey: Survey, values: dict[int, int]) -> None:
    """`values` maps each demand id of the survey to a rank (1..n, each once) or a number of dots."""
    ids = set(survey.demands.values_list("pk", flat=True))
    if set(values) != ids or any(not isinstance(v, int) or v < 0 for v in values.values()):
        raise ValidationError(ERR_ANSWERS)
    if survey.method == Survey.Method.RANKING:
        if sorted(values.values()) != list(range(1, len(ids) + 1)):
            raise ValidationError(ERR_RANKS)
        return
    spent = sum(values.values())
    if spent > survey.dots:
        raise ValidationError(ERR_DOTS_SPENT)
    if spent < 1:
        raise ValidationError(ERR_NO_DOTS)


@transaction.atomic
def survey_respond(*, user: User, survey: Survey, values: dict[int, int]) -> None:
    """Record one member's answers, once.

    The survey row is locked (a close waits for answers in flight, and answers after a close are
    refused); the member's unique Participation row makes a second answer fail even without the lock.
    """
    survey = Survey.objects.select_for_update().select_related("campaign").get(pk=survey.pk)
    if survey.status != Survey.Status.OPEN:
        raise ValidationError(ERR_CLOSED)
    if not eligible_respondents(survey.campaign).filter(user_id=user.pk).exists():
        raise ValidationError(ERR_NOT_ELIGIBLE)
    validate_answers(survey, values)
    try:
        with transaction.atomic():
            Participation.objects.create(survey=survey, user=user)
    except IntegrityError as error:
        raise ValidationError(ERR_ALREADY) from error
    response = SurveyResponse.objects.create(survey=survey, respondent=None if survey.anonymous else user)
    # Shuffled by their random keys when read; written in demand order, which says nothing.
    SurveyAnswer.objects.bulk_create([SurveyAnswer(response=response, demand_id=demand_id, value=value)
                                      for demand_id, value in sorted(values.items())])
    # No audit record: it would put "this member answered at this time" beside the answers.


def survey_tally(survey: Survey) -> dict[str, Any]:
    """The figures as they stand: per demand, in order of priority. Two queries.

    Ranking: Borda points (n - rank for each response: n - 1 for a first place, 0 for the last),
    the mean rank (two decimals, as text so the figures hash the same everywhere) and the number of
    first places. Dot-voting: the dots and the number of members who gave the demand any.
    """
    demands = list(survey.demands.order_by("number"))
    n = len(demands)
    responses = survey.responses.count()
    agg = {row["demand_id"]: row for row in SurveyAnswer.objects.filter(response__survey=survey)
           .values("demand_id").annotate(total=Sum("value"), firsts=Count("pk", filter=Q(value=1)),
                                         backers=Count("pk", filter=Q(value__gt=0)), answers=Count("pk"))}
    rows = []
    for demand in demands:
        row = agg.get(demand.pk, {"total": 0, "firsts": 0, "backers": 0, "answers": 0})
        total, answers = row["total"] or 0, row["answers"]
        entry: dict[str, Any] = {"demand": demand.pk, "number": demand.number, "title": demand.title}
        if survey.method == Survey.Method.RANKING:
            mean = (Decimal(total) / answers).quantize(Decimal("0.01"), ROUND_HALF_UP) if answers else None
            entry.update(points=n * answers - total, mean_rank=str(mean) if mean is not None else "",
                         firsts=row["firsts"])
        else:
            entry.update(dots=total, backers=row["backers"])
        rows.append(entry)
    key = "points" if survey.method == Survey.Method.RANKING else "dots"
    rows.sort(key=lambda r: (-r[key], r["number"]))
    return {"method": survey.method, "dots": survey.dots, "responses": responses, "rows": rows}


@transaction.atomic
def survey_close(*, actor: User, survey: Survey) -> Survey:
    """Close and count: the result is kept on the survey and published to the campaign's readers."""
    survey = Survey.objects.select_for_update().select_related("campaign").get(pk=survey.pk)
    if survey.status != Survey.Status.OPEN:
        raise ValidationError(ERR_CLOSED)
    result = survey_tally(survey)
    result["eligible"] = eligible_respondents(survey.campaign).count()
    survey.result, survey.status, survey.closed_at = result, Survey.Status.CLOSED, timezone.now()
    survey.save(update_fields=["result", "status", "closed_at"])
    audit_record(actor, "bargaining.survey_close", survey, local_id=survey.campaign.local_id,
                 responses=result["responses"], eligible=result["eligible"])
    return survey
