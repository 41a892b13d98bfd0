"""Union card texts, signing and revoking. Callers check access first (permissions.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from membership.models import (
    CardText,
    Member,
    Union,
    UnionCard,
    User,
)
from membership.services.members import _set_status
from membership.tally import signatures_adjust, tally_tracked
from union.audit import audit_record


def current_card_text(union: Union, language: str) -> CardText | None:
    """The newest version of the card text, in `language` when it exists, else in English."""
    latest = CardText.objects.filter(union=union).order_by("-version").values_list("version", flat=True).first()
    if latest is None:
        return None
    texts = {t.language: t for t in CardText.objects.filter(union=union, version=latest)}
    return texts.get(language) or texts.get("en") or next(iter(texts.values()))


@transaction.atomic
def card_sign(*, member: Member, card_text: CardText, signature_name: str, consents: dict[str, Any],
              advance_status: bool = True) -> UnionCard:
    """Sign the card: the text, typed name, consents and time are kept together, encrypted.

    `advance_status=False` keeps an applicant an applicant (their email is not confirmed yet).
    """
    from django.utils import timezone

    with tally_tracked(member):
        return _card_sign(member=member, card_text=card_text, signature_name=signature_name, consents=consents,
                          advance_status=advance_status, now=timezone.now())


def _card_sign(*, member: Member, card_text: CardText, signature_name: str, consents: dict[str, Any],
               advance_status: bool, now: datetime) -> UnionCard:
    card = UnionCard.objects.create(
        member=member, card_text=card_text, signed_at=now,
        signed={"title": card_text.title, "body": card_text.body, "version": card_text.version,
                "language": card_text.language, "signature": signature_name, "consents": consents,
                "signed_at": now.isoformat()},
    )
    signatures_adjust(member.local_id, now, 1)
    if advance_status and member.status in (Member.Status.APPLICANT, Member.Status.RESIGNED,
                                            Member.Status.REJECTED):
        _set_status(actor=member.user, member=member, new=Member.Status.PENDING, reason="card signed")
    audit_record(member.user, "card.sign", card, local_id=member.local_id, version=card_text.version)
    return card


@transaction.atomic
def card_revoke(*, actor: User | None, card: UnionCard) -> None:
    """Revoke a signed card (the member withdraws it). The record stays, marked revoked."""
    from django.utils import timezone

    with tally_tracked(card.member):
        card = UnionCard.objects.select_for_update().get(pk=card.pk)
        if card.revoked_at is not None:
            return
        card.revoked_at = timezone.now()
        card.save(update_fields=["revoked_at"])
        signatures_adjust(card.member.local_id, card.signed_at, -1)
        audit_record(actor, "card.revoke", card, local_id=card.member.local_id)
