"""Template filters shared by every app's pages."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from union.languages import language_name

register = template.Library()


@register.filter
def language_names(codes: Iterable[str] | str) -> SafeString | str:
    """ "sw", "en" -> "Kiswahili, English", each name marked with its own language for screen readers."""
    if isinstance(codes, str):
        codes = [codes]
    codes = [code for code in codes if code]
    if not codes:
        return ""
    return format_html_join(", ", '<span lang="{}">{}</span>', ((code, language_name(code)) for code in codes))
