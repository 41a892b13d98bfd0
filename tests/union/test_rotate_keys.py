from __future__ import annotations

import base64
import os

import pytest
from django.core.management import call_command

from membership.models import Member, User
from tests.factories import make_local, make_member
from union import crypto
from union.fields import key_ids_in_use
from union.models import AuditEvent


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.django_db
def test_it_reencrypts_every_field_under_the_new_primary_key(settings: object) -> None:
    old = f"old:{new_key()}"
    settings.TESSERA_DATA_KEYS = old  # type: ignore[attr-defined]
    local = make_local()
    users = [make_member(local, email=f"person{i}@example.org") for i in range(3)]
    Member.objects.filter(user=users[0]).update(legal_name="Mwangi Wa Nduta")
    assert key_ids_in_use() == {"old": 4}

    settings.TESSERA_DATA_KEYS = f"new:{new_key()},{old}"  # type: ignore[attr-defined]
    call_command("rotate_data_keys", verbosity=0)
    assert key_ids_in_use() == {"new": 4}

    # With the old key gone, everything still reads back.
    settings.TESSERA_DATA_KEYS = settings.TESSERA_DATA_KEYS.split(",")[0]  # type: ignore[attr-defined]
    assert [User.objects.get(pk=u.pk).email for u in users] == [f"person{i}@example.org" for i in range(3)]
    assert Member.objects.get(user=users[0]).legal_name == "Mwangi Wa Nduta"
    assert crypto.key_ring().primary_id == "new"
    assert AuditEvent.objects.filter(action="data_keys.rotate").exists()
