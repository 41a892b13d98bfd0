"""Trigram indexes for the roll's substring filters, on PostgreSQL only.

`pseudonym__icontains` becomes `UPPER(pseudonym::text) LIKE UPPER('%text%')` and the language filter
`languages::text LIKE '%,sw,%'`: a B-tree cannot serve a pattern with a leading wildcard, so at
100,000 members a search read the whole local. A GIN index of trigrams over the same expressions
(pg_trgm) finds the matching rows directly. SQLite has no such index; these operations do nothing
there (its roll is small enough, and it keeps the B-tree indexes of migration 0009).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEXES = {
    "member_pseudonym_trgm": "(UPPER(pseudonym::text)) gin_trgm_ops",
    "member_languages_trgm": "(languages::text) gin_trgm_ops",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # Not django.contrib.postgres's TrigramExtension: its reversal queries pg_extension even on
    # SQLite. Unapplying leaves the extension installed (other objects may use it).
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON membership_member USING gin ({expression})")


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("membership", "0009_roll_filter_and_dashboard_indexes")]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
