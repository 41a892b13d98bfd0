"""Types for annotations only.

`AuthedHttpRequest` is the request a view receives behind `@login_required`: Django's `HttpRequest`
types `user` as `User | AnonymousUser`, which is right for an open page but makes every service call
(`actor: User`) a type error on a page that only a logged-in user reaches. It lives here, not in
`union/`, because `User` is ours (membership) and the core imports no feature app.
"""

from __future__ import annotations

from django.http import HttpRequest

from membership.models import User


class AuthedHttpRequest(HttpRequest):
    """An `HttpRequest` whose user is logged in. Annotate only views behind `@login_required`."""

    user: User
