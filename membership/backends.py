"""Log in with a handle or an email address (found through its blind index)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from membership.models import User


def find_user(login: str) -> User | None:
    login = (login or "").strip()
    if not login:
        return None
    try:
        if "@" in login:
            return User.objects.get_by_email(login)
        return User.objects.get_by_natural_key(login)
    except User.DoesNotExist:
        return None


class HandleOrEmailBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if username is None or password is None:
            return None
        user = find_user(username)
        if user is None:
            # Hash anyway, so that a missing account takes as long as a wrong password.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
