"""Plain factory functions for tests and benchmarks."""

from __future__ import annotations

import itertools
from typing import Any

from membership.devices import Authenticator
from membership.models import BargainingUnit, ClientPlatform, Employer, Local, Member, Union, User
from membership.services import role_grant

PASSWORD = "a long test passphrase 7"
_seq = itertools.count(1)


def make_union(name: str = "Test Union") -> Union:
    n = next(_seq)
    return Union.objects.create(name=f"{name} {n}", slug=f"union-{n}")


def make_local(union: Union | None = None, name: str = "Local") -> Local:
    n = next(_seq)
    return Local.objects.create(union=union or make_union(), name=f"{name} {n}", slug=f"local-{n}")


def make_user(handle: str | None = None, *, email: str | None = None, password: str = PASSWORD, **extra: Any) -> User:
    handle = handle or f"user{next(_seq)}"
    return User.objects.create_user(handle, password, email=email if email is not None else f"{handle}@example.org", **extra)


def make_unit(local: Local, **fields: object) -> BargainingUnit:
    n = next(_seq)
    employer = Employer.objects.create(union=local.union, name=f"Vendor {n}")
    client = ClientPlatform.objects.create(union=local.union, name=f"Platform {n}")
    defaults: dict[str, object] = {"project": "Queue A", "country": "KE", "headcount": 100}
    defaults.update(fields)
    return BargainingUnit.objects.create(local=local, employer=employer, client=client, **defaults)


def make_member(local: Local, role: str = "member", *, handle: str | None = None, **user_fields: Any) -> User:
    user = make_user(handle, **user_fields)
    Member.objects.create(user=user, union=local.union, local=local, pseudonym=f"{user.handle}-p",
                          status=Member.Status.ACTIVE)
    role_grant(actor=None, user=user, local=local, role=role)
    return user


def make_totp(user: User) -> Authenticator:
    return Authenticator.objects.create(user=user, name="authenticator", confirmed=True)
