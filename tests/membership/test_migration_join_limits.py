"""Migration 0011 fills what existing rows need: pseudonym keys, and deadlines for waiting accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("membership", "0010_roll_trigram_indexes")]
AFTER = [("membership", "0011_join_limits_pseudonym_keys_pending_email")]


def test_existing_members_get_keys_and_waiting_accounts_a_deadline() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Union, Local, Member, User = (old.get_model("membership", n) for n in ("Union", "Local", "Member", "User"))
    union = Union.objects.create(name="U", slug="u")
    local = Local.objects.create(union=union, name="L", slug="l")
    joined = timezone.now() - timedelta(days=1)
    waiting = User.objects.create(handle="waiting", password="!x", is_active=False, date_joined=joined)
    decoy = User.objects.create(handle="decoy", password="!y", is_active=False, date_joined=joined)
    active = User.objects.create(handle="active", password="md5$x$y", is_active=True, date_joined=joined)
    Member.objects.create(union=union, local=local, user=waiting, pseudonym="Wanjіru", status="applicant")
    Member.objects.create(union=union, local=local, user=active, pseudonym="Amani", status="active")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Member, User = new.get_model("membership", "Member"), new.get_model("membership", "User")
    assert dict(Member.objects.values_list("pseudonym", "pseudonym_key")) == {"Wanjіru": "wanjlru", "Amani": "amanl"}
    deadlines = dict(User.objects.values_list("handle", "confirm_by"))
    assert deadlines["waiting"] == deadlines["decoy"] == joined + timedelta(days=3)
    assert deadlines["active"] is None
    assert decoy.pk
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # leave the database as the other tests expect
