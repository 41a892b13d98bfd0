"""Who sees and edits a bargaining campaign. Missing and not visible both answer 404.

- Edit (campaign and demands): the campaign's committee members while they hold `draft_demands`
  in its local now (an active representative), and the local's admins.
- Read: those editors; the local's representatives outside this committee (they draft other
  campaigns of the local); and members of the local (active or lapsed: `view_local`) whose unit is
  one of the campaign's units.
- Everyone else, other locals included: 404. A reader who asks for an edit page gets 403.

Consultation (comments, endorsements, the priorities survey) follows the campaign: whoever reads
it comments and endorses; the local's representatives and admins (`draft_demands`) hide comments;
the campaign's editors open and close surveys; members of the campaign's units answer them; the
local's representatives and admins follow the results live, every reader sees them after the close.
A comment is edited and deleted by its author only (an anonymous comment's author is known only
through its keyed tag, bargaining/consultation.py); to everyone else those pages answer 404.

Rights come from `membership.permissions.local_perms`, which applies the membership-status rule
(membership/roles.py): a suspended representative edits nothing, whatever the committee says.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bargaining.consultation import OPEN_STAGES, is_comment_author
from bargaining.models import Ballot, Campaign, Comment, Demand, Survey
from membership.models import Local, Member
from membership.permissions import local_perms
from membership.roles import Role
from membership.selectors import role_in_local


def can_create_campaign(user: Any, local: Local) -> bool:
    return "draft_demands" in local_perms(user, local)


def can_edit_campaign(user: Any, campaign: Campaign) -> bool:
    if "draft_demands" not in local_perms(user, campaign.local):
        return False
    if role_in_local(user, campaign.local) == Role.LOCAL_ADMIN:
        return True
    return campaign.committee.filter(pk=user.pk).exists()


def can_read_campaign(user: Any, campaign: Campaign) -> bool:
    perms = local_perms(user, campaign.local)
    if "draft_demands" in perms:
        return True
    if "view_local" not in perms:
        return False
    unit_id = Member.objects.filter(user=user, local=campaign.local, erased_at__isnull=True).values_list(
        "unit_id", flat=True).first()
    return unit_id is not None and campaign.units.filter(pk=unit_id).exists()


def access_campaign(user: Any, code: Any, *, for_write: bool = False) -> Campaign:
    """The campaign; Http404 when missing or hidden, PermissionDenied when the user only reads it."""
    campaign = Campaign.objects.filter(code=code).select_related("local", "local__union").first()
    if campaign is None or not can_read_campaign(user, campaign):
        raise Http404
    if for_write and not can_edit_campaign(user, campaign):
        raise PermissionDenied
    return campaign


def access_ballot(user: Any, code: Any, *, for_write: bool = False) -> Ballot:
    """The ballot, with the access of its campaign: Http404 when missing or hidden,
    PermissionDenied when the user may only read (and vote)."""
    ballot = Ballot.objects.filter(code=code).select_related("campaign", "demand").first()
    if ballot is None:
        raise Http404
    access_campaign(user, ballot.campaign.code, for_write=for_write)
    return ballot


def access_demand(user: Any, code: Any, *, for_write: bool = False) -> Demand:
    demand = Demand.objects.filter(code=code).select_related("campaign", "campaign__local").first()
    if demand is None:
        raise Http404
    # Reuse the campaign rule on the row already loaded, so a demand is exactly as visible as its campaign.
    if not can_read_campaign(user, demand.campaign):
        raise Http404
    if for_write and not can_edit_campaign(user, demand.campaign):
        raise PermissionDenied
    return demand


def can_moderate_comments(user: Any, campaign: Campaign) -> bool:
    """Representatives and admins of the campaign's local (committee or not) hide and restore comments."""
    return "draft_demands" in local_perms(user, campaign.local)


def access_comment(user: Any, code: Any, *, for_moderation: bool = False, for_author: bool = False) -> Comment:
    """The comment, as visible as its demand; PermissionDenied for moderation by a non-moderator.

    `for_author` (edit, delete): Http404 for anyone but the author, like a missing comment, so the
    pages say nothing about who wrote an anonymous comment.
    """
    comment = Comment.objects.filter(code=code).select_related("demand__campaign__local").first()
    if comment is None or not can_read_campaign(user, comment.demand.campaign):
        raise Http404
    if for_author and not is_comment_author(comment, user):
        raise Http404
    if for_moderation and not can_moderate_comments(user, comment.demand.campaign):
        raise PermissionDenied
    return comment


def can_edit_comment(user: Any, comment: Comment, *, mine: bool | None = None) -> bool:
    """The author, while the comment is shown and the campaign still consults. `mine` saves the
    caller who already asked is_comment_author a second keyed hash."""
    if mine is None:
        mine = is_comment_author(comment, user)
    return mine and not comment.hidden and comment.demand.campaign.stage in OPEN_STAGES


def access_survey(user: Any, code: Any, *, for_write: bool = False) -> Survey:
    """The survey, with the access of its campaign (as access_ballot)."""
    survey = Survey.objects.filter(code=code).select_related("campaign__local").first()
    if survey is None or not can_read_campaign(user, survey.campaign):
        raise Http404
    if for_write and not can_edit_campaign(user, survey.campaign):
        raise PermissionDenied
    return survey


def can_see_survey_results(user: Any, survey: Survey) -> bool:
    """After the close, every reader; while open, the local's representatives and admins only."""
    if survey.status == Survey.Status.CLOSED:
        return can_read_campaign(user, survey.campaign)
    return "draft_demands" in local_perms(user, survey.campaign.local)


def access_survey_results(user: Any, code: Any) -> Survey:
    """Results hidden from a member while the survey is open answer 404, like a missing page."""
    survey = access_survey(user, code)
    if not can_see_survey_results(user, survey):
        raise Http404
    return survey


def can_see_named_answers(user: Any, survey: Survey) -> bool:
    """Who answered what, in a named survey: the local's representatives and admins (as moderation).
    An anonymous survey names nobody to anyone."""
    return not survey.anonymous and can_moderate_comments(user, survey.campaign)
