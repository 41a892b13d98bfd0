"""Authorization expectations for the join pages (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from membership.cardtext import ensure_default_card_texts
from membership.models import Member, UnionCard
from membership.services import card_sign, current_card_text
from tests.base import Personas


def slug(p: Personas) -> dict[str, Any]:
    ensure_default_card_texts(p.local.union)
    return {"slug": p.local.union.slug}


def invited(p: Personas) -> dict[str, Any]:
    return {**slug(p), "token": "no-such-token"}


def confirm(p: Personas) -> dict[str, Any]:
    return {"token": "bad:token"}


def member_card(p: Personas) -> dict[str, Any]:
    """The plain member's own card: only they see it, officers of their local included get 404."""
    member = Member.objects.get(user=p.member)
    card = UnionCard.objects.filter(member=member).first()
    if card is None:
        ensure_default_card_texts(member.union)
        text = current_card_text(member.union, "en")
        assert text is not None
        card = card_sign(member=member, card_text=text,
                         signature_name="Test Signature", consents={"I want to join": True})
    return {"code": card.code}


def none(p: Personas) -> dict[str, Any]:
    return {}


#                              anon  member steward organizer rep  admin  outsider
EXPECTATIONS: dict = {
    "membership:join": (slug, (200, 200, 200, 200, 200, 200, 200)),  # members see "already on the roll"
    "membership:join_invited": (invited, (404, 404, 404, 404, 404, 404, 404)),  # unknown token
    "membership:join_sent": (slug, (200, 200, 200, 200, 200, 200, 200)),
    "membership:join_qr": (slug, (200, 200, 200, 200, 200, 200, 200)),
    "membership:join_invite_card": (slug, (200, 200, 200, 200, 200, 200, 200)),
    "membership:join_invite": (slug, (302, 200, 200, 200, 200, 200, 200)),  # the outsider is in the same union
    "membership:join_confirm": (confirm, (404, 404, 404, 404, 404, 404, 404)),
    "membership:join_cards": (none, (302, 200, 200, 200, 200, 200, 200)),
    "membership:join_card": (member_card, (302, 200, 404, 404, 404, 404, 404)),
    "membership:join_card_pdf": (member_card, (302, 200, 404, 404, 404, 404, 404)),
    "membership:join_card_revoke": (member_card, (302, 200, 404, 404, 404, 404, 404)),
}
