"""Languages named in themselves: a Swahili speaker finds "Kiswahili" whatever the page's language.

Members record the languages they work in as codes ("sw", "tl"); pages must never show the code.
"""

from __future__ import annotations

from django.conf.locale import LANG_INFO

# Languages our members speak that Django's table lacks (or names without a capital).
NAMES = {
    "en": "English", "fr": "Français", "sw": "Kiswahili", "es": "Español", "pt": "Português",
    "tl": "Tagalog", "fil": "Filipino", "am": "አማርኛ", "so": "Soomaali", "ti": "ትግርኛ", "om": "Afaan Oromoo",
    "yo": "Yorùbá", "ha": "Hausa", "ig": "Igbo", "zu": "isiZulu", "xh": "isiXhosa", "mg": "Malagasy",
    "ceb": "Cebuano", "ilo": "Ilokano", "hi": "हिन्दी", "ur": "اردو", "ar": "العربية",
}


def language_name(code: str) -> str:
    """The language's own name for a code, or the code itself when no table knows it."""
    code = (code or "").strip().lower()
    if code in NAMES:
        return NAMES[code]
    info = LANG_INFO.get(code) or LANG_INFO.get(code.split("-")[0]) or {}
    if "fallback" in info:
        info = LANG_INFO.get(info["fallback"][0], {})
    name = str(info.get("name_local") or code)
    return name[:1].upper() + name[1:]
