"""Template filters of the membership pages."""

from __future__ import annotations

from django import template

from membership.roles import Role

register = template.Library()


@register.filter
def role_label(code: str | None) -> str:
    """ "local_admin" -> "Local admin", translated; "" for no role (a member without an account)."""
    if not code:
        return ""
    try:
        return str(Role(code).label)
    except ValueError:  # a role removed from the code but still on old rows: say so, do not guess
        return str(code)
