"""Whether the members ratified the demands, from the ballots they closed (not from the campaign's stage).

The rule, printed on the demands document's cover and deciding its DRAFT watermark:

- The whole set is decided by its latest closed ballot on the whole set (a later vote replaces an
  earlier one, in either direction). It is ratified when that ballot carried (quorum met and the
  threshold passed, bargaining/ballots.py) and no article was added or changed since the ballot
  opened: members ratify what they were shown, and an article edited during or after the vote is
  not what they voted on.
- Per-article ballots (opened from the service) decide their own article the same way, and the
  document prints each result under its article. They ratify the whole set only when no ballot
  on the whole set has closed and every article carried its own, unchanged since.
- An open ballot decides nothing; with no closed ballot at all the document stays a draft.

Everything here is plain data (strings, numbers, booleans) so that it enters the canonical
content, and with it the content hash printed on the document.
"""

from __future__ import annotations

from typing import Any

from bargaining.models import Ballot, Campaign, Demand


def _printed(ballot: Ballot, demands: list[Demand]) -> dict[str, Any]:
    result = ballot.result or {}
    counts = result.get("counts", {})
    changed = any(d.updated_at > ballot.opened_at for d in demands)
    assert ballot.closed_at is not None  # only closed ballots reach here
    return {
        "eligible": result.get("eligible", 0), "cast": result.get("cast", 0),
        "yes": counts.get("yes", 0), "no": counts.get("no", 0), "abstain": counts.get("abstain", 0),
        "quorum_percent": ballot.quorum_percent, "threshold_percent": ballot.threshold_percent,
        "quorum_met": bool(result.get("quorum_met")), "carried": bool(result.get("carried")),
        "closed_on": ballot.closed_at.date().isoformat(),
        "changed_since": changed,
        "ratified": bool(result.get("carried")) and not changed,
    }


def ratification(campaign: Campaign, demands: list[Demand]) -> dict[str, Any]:
    """{"set": the whole-set result or None, "articles": {number: result}, "ratified": bool}.

    `demands` are the campaign's articles (already loaded by the caller). Two queries.
    """
    closed = list(campaign.ballots.filter(status=Ballot.Status.CLOSED).order_by("closed_at", "pk"))
    whole = [b for b in closed if b.demand_id is None]
    by_demand: dict[int, Ballot] = {}
    for ballot in closed:  # in closing order: the last one of each article stays
        if ballot.demand_id is not None:
            by_demand[ballot.demand_id] = ballot
    articles = {d.number: _printed(by_demand[d.pk], [d]) for d in demands if d.pk in by_demand}
    decided = _printed(whole[-1], demands) if whole else None
    if decided is not None:
        ratified = decided["ratified"]
    else:
        ratified = bool(demands) and all(articles.get(d.number, {}).get("ratified") for d in demands)
    return {"set": decided, "articles": articles, "ratified": ratified}
