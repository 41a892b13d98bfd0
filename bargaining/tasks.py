"""Background work of bargaining, through django-tasks (DESIGN.md, "Background work").

Task arguments are stored in clear by the database backend, so they carry ids only. Each render
pushes its progress to the pages showing the campaign (bargaining/progress.py) and, once it is
kept, tells the person who asked for it on their other pages (services.document_ready_notify).
"""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from bargaining.models import Campaign
from bargaining.previews import document_links
from bargaining.progress import progress_now, progress_on_commit, reporter
from bargaining.services import agreement_generate, demands_document_generate, document_ready_notify
from union.models import Document


def _finish(campaign_id: int, kind: str, document: Document, actor_id: int | None) -> None:
    """The last step, on commit: the version and where to fetch it, and a notice to who asked."""
    campaign = Campaign.objects.get(pk=campaign_id)
    progress_on_commit(campaign_id, kind, "done", version=document.version,
                       **document_links(campaign.code, kind, document))
    document_ready_notify(actor_id=actor_id, campaign=campaign, kind=kind, version=document.version)


def _run(kind: str, campaign_id: int, actor_id: int | None) -> int:
    try:
        with transaction.atomic():
            if kind == "demands":
                document = demands_document_generate(actor_id=actor_id, campaign_id=campaign_id,
                                                     progress=reporter(campaign_id, kind)).document
            else:
                document = agreement_generate(actor_id=actor_id, campaign_id=campaign_id,
                                              progress=reporter(campaign_id, kind)).document
            _finish(campaign_id, kind, document, actor_id)
    except Exception:
        # The page stops waiting; the task backend records the error itself.
        progress_now(campaign_id, kind, "failed")
        raise
    return document.version


@task()
def generate_demands_document(*, campaign_id: int, actor_id: int | None) -> int:
    """Render and keep the campaign's demands PDF; returns the document version."""
    return _run("demands", campaign_id, actor_id)


@task()
def generate_agreement_document(*, campaign_id: int, actor_id: int | None) -> int:
    """Render and keep the campaign's tentative agreement PDF; returns the document version."""
    return _run("agreement", campaign_id, actor_id)
