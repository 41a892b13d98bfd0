"""The progress channel: live progress of document generation, pushed to the pages that show the
campaign's documents.

Why this broadcasts itself rather than through a service: a progress step records nothing. It
writes no row and no audit record, it is not a change the union made but a report on work under
way, and most steps must go out *during* the render's transaction (on commit they would all arrive
at once, at the end). Services (bargaining/services.py) make and keep the documents; this module
only tells the pages how far they are, best effort, and the task (bargaining/tasks.py) calls it.

Events go to one channel-layer group per campaign, which only sockets that passed the campaign's
read check join (bargaining/consumers.py). They carry codes and numbers only: the kind of document
("demands", "agreement"), a step, a percentage, and when done the version and the paths of its
download and preview; the page holds the translated words for each step. Steps are sent at once
(the render runs inside a transaction that would hold them back); the end is sent on commit, so a
page never shows a version that a rollback took away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from union.realtime import broadcast_now, broadcast_on_commit

logger = logging.getLogger(__name__)

KINDS = ("demands", "agreement")
# How far along each step is, as the page's <progress> shows it. Layout is the long one.
PERCENT = {"queued": 2, "start": 5, "layout": 15, "write": 65, "store": 80, "preview": 90, "done": 100, "failed": 100}
EVENT = "document.progress"


def documents_group(campaign_id: int) -> str:
    return f"bargaining.documents.{campaign_id}"


def _event(kind: str, step: str, extra: dict[str, Any]) -> dict[str, Any]:
    if kind not in KINDS or step not in PERCENT:
        raise ValueError(f"unknown document kind or step: {kind!r} {step!r}")
    return {"type": EVENT, "kind": kind, "step": step, "percent": PERCENT[step], **extra}


def progress_now(campaign_id: int, kind: str, step: str, **extra: Any) -> None:
    """Tell the campaign's pages how far a render is. Best effort: progress never fails a render."""
    event = _event(kind, step, extra)
    try:
        broadcast_now(documents_group(campaign_id), event)
    except Exception:  # noqa: BLE001 - a channel layer outage must not lose the document being made
        logger.warning("Could not send document progress (%s, %s) for campaign %s.", kind, step, campaign_id)


def progress_on_commit(campaign_id: int, kind: str, step: str, **extra: Any) -> None:
    """The final step, sent once the document is committed (never if it rolls back)."""
    event = _event(kind, step, extra)
    broadcast_on_commit(documents_group(campaign_id), event)


def reporter(campaign_id: int, kind: str) -> Callable[[str], None]:
    """A `progress` callback for union.pdf.html_to_pdf and the services."""
    return lambda step: progress_now(campaign_id, kind, step)
