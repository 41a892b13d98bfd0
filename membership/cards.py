"""The signed card as a kept document: its PDF stored in the shared document layer (union/documents.py).

What the member signed (text, typed name, consents, time) is already kept, encrypted, on the
UnionCard row; the PDF is a rendering of it. The first time a card's PDF is handed out it is stored
as version 1 of the card's "membership.card" document, and every later download returns those
same bytes, hashed and with a custody row. A revocation changes what the card says ("Revoked
on ..."), so the next download stores a new version; the old one stays as it was.

Cards signed before this layer existed need no migration: their first download stores them. The
PDF is not rendered at signing time on purpose: joining must take the same time whether or not the
address was already known (membership/views/join.py), and a render costs hundreds of milliseconds.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import translation

from membership.models import UnionCard, User
from union import documents
from union.models import Document

CARD_KIND = "membership.card"
TEMPLATE = "membership/join/card_pdf.html"


def _is_current(document: Document | None, card: UnionCard) -> bool:
    if document is None:
        return False
    return card.revoked_at is None or document.created_at >= card.revoked_at


@transaction.atomic
def card_document(*, card: UnionCard, actor_id: int | None) -> Document:
    """The stored PDF of the card as it stands: the latest version, or a new one rendered now."""
    # The card row is locked so that two first downloads at once store one version, not two.
    card = UnionCard.objects.select_for_update().select_related("member").get(pk=card.pk)
    document = documents.latest(CARD_KIND, card.code)
    if _is_current(document, card):
        return document  # type: ignore[return-value]
    # The whole document in the language the card was signed in, labels included.
    with translation.override(card.signed.get("language") or translation.get_language()):
        return documents.document_render(kind=CARD_KIND, owner_code=card.code, actor_id=actor_id,
                                         template=TEMPLATE, context={"card": card, "signed": card.signed})


def card_pdf(*, actor: User, card: UnionCard) -> bytes:
    """The card's PDF for a download by `actor` (the caller checked access), in the document's custody."""
    document = card_document(card=card, actor_id=actor.pk)
    return documents.document_read(document=document, actor_id=actor.pk)


def card_documents_destroy(*, card: UnionCard) -> int:
    """Every stored PDF of the card, gone with its custody: part of erasing the member (self_service)."""
    return documents.documents_destroy(kind=CARD_KIND, owner_code=card.code)
