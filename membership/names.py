"""Names and pseudonyms people type: characters refused, and pseudonyms too close to a member's.

Two abuses, both cheap for a bot and confusing for a worker:

- Invisible or direction-changing characters (U+202E RIGHT-TO-LEFT OVERRIDE, the U+2066..2069
  isolates, zero-width spaces and joiners, control characters) make a name display as something
  else than what it is ("Amani<RLO>gnp.exe"), or two names look identical while differing. They
  are refused wherever a person types a name: the join form, the member's own page, the CSV
  import, and the model validator behind the services.
- Squatting: a bot signs up as "wanjiru", "Wanjіru" (Cyrillic і) or "WANJ1RU" to pass for a real
  member in the local. `pseudonym_key` folds a pseudonym to a skeleton (compatibility forms, case,
  accents, common look-alike letters and digits, spacing and punctuation), stored on the member
  and indexed, so a pseudonym whose skeleton is a confirmed member's is refused. An unconfirmed
  sign-up reserves nothing: its pseudonym does not block anyone, and whoever confirms second
  while clashing is renamed (see `membership.services.member_confirm_email`). The table is an
  approximation of Unicode's confusables (UTS #39), kept small on purpose: it covers the Latin,
  Cyrillic and Greek look-alikes an attacker reaches for first.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy

ERR_UNSAFE_CHARACTERS = gettext_lazy(
    "Remove the invisible or control characters (such as direction marks or zero-width spaces).")
ERR_PSEUDONYM_CLOSE = gettext_lazy(
    "This pseudonym is too close to a member's. Choose another one, so nobody is taken for someone else.")

# Cc control, Cf format (bidi overrides and isolates, zero-width space/joiners, BOM), Cs surrogate,
# Co private use, Cn unassigned, Zl/Zp line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

CONFUSABLES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ѵ": "v", "ɡ": "g", "ӏ": "l",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ς": "c",
    # Digits and Latin letters that pass for others
    "0": "o", "1": "l", "i": "l", "|": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
})


def unsafe_characters(value: str) -> bool:
    return any(unicodedata.category(ch) in UNSAFE_CATEGORIES for ch in value)


def validate_display_text(value: str) -> None:
    """Model and form validator for names and pseudonyms."""
    if value and unsafe_characters(value):
        raise ValidationError(ERR_UNSAFE_CHARACTERS, code="unsafe_characters")


def pseudonym_key(pseudonym: str) -> str:
    """The skeleton two pseudonyms share when a reader could take one for the other."""
    text = unicodedata.normalize("NFKD", pseudonym.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # Twice: a look-alike may map onto a letter that is itself folded (Cyrillic і, then i).
    text = text.translate(CONFUSABLES).translate(CONFUSABLES).replace("rn", "m").replace("vv", "w")
    folded = "".join(ch for ch in text if ch.isalnum())
    return (folded or text.strip())[:80]
