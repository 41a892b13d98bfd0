"""Background work of bargaining, through django-tasks (DESIGN.md, "Background work").

Task arguments are stored in clear by the database backend, so they carry ids only.
"""

from __future__ import annotations

from django_tasks import task

from bargaining.services import demands_document_generate


@task()
def generate_demands_document(*, campaign_id: int, actor_id: int | None) -> int:
    """Render and keep the campaign's demands PDF; returns the document version."""
    return demands_document_generate(actor_id=actor_id, campaign_id=campaign_id).document.version
