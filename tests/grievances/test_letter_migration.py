"""Letters issued before the document layer are moved onto it by grievances migration 0003."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from grievances.models import Letter
from union import files
from union.documents import document_read

BEFORE = [("grievances", "0002_assignment_events_name_steward_by_id"), ("union", "0002_seal_audit_chain_head")]
PDF = b"%PDF-1.7\nCANARY-OLD-LETTER the night shift was not paid\n%%EOF\n"


def migrate(targets: Sequence[tuple[str, str | None]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    # An app migrated to zero (None) has no state to build.
    return executor.loader.project_state([(app, name) for app, name in targets if name is not None]).apps


def latest_targets() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def before_targets() -> list[tuple[str, str | None]]:
    """Grievances and union just before the document layer; every other app at its newest
    migration that does not need the layer (bargaining stores its documents there), so the
    historical models match the tables (a row written through them fills every column)."""
    graph = MigrationExecutor(connection).loader.graph
    layer = {("grievances", "0003_letters_on_document_layer"), ("union", "0003_document_layer")}
    targets: list[tuple[str, str | None]] = list(BEFORE)
    for app, name in graph.leaf_nodes():
        if app in ("grievances", "union"):
            continue
        node: tuple[str, str] | None = (app, name)
        while node is not None and layer & set(graph.forwards_plan(node)):
            parents = [parent for parent in graph.node_map[node].parents if parent[0] == app]
            node = parents[0].key if parents else None
        targets.append(node if node is not None else (app, None))
    return targets


@pytest.mark.django_db(transaction=True)
def test_old_letters_become_documents_and_a_missing_file_stops_the_migration(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    old = migrate(before_targets())
    Union, Local = old.get_model("membership", "Union"), old.get_model("membership", "Local")
    Category, Grievance = old.get_model("grievances", "Category"), old.get_model("grievances", "Grievance")
    User, OldLetter = old.get_model("membership", "User"), old.get_model("grievances", "Letter")
    union = Union.objects.create(code=uuid.uuid4(), name="U", slug="u")
    local = Local.objects.create(code=uuid.uuid4(), union=union, name="L", slug="l")
    category = Category.objects.create(union=union, slug="pay", name="Pay")
    steward = User.objects.create(code=uuid.uuid4(), handle="steward1", password="!")
    grievance = Grievance.objects.create(code=uuid.uuid4(), union=union, local=local, category=category,
                                         title="t", number="GRV-2026-0001", status="open")
    name = files.store("letters", PDF)  # the old layout: letters/<name>, bound to the name only
    letter = OldLetter.objects.create(code=uuid.uuid4(), grievance=grievance, version=1, storage_name=name,
                                      sha256=hashlib.sha256(PDF).hexdigest(), size=len(PDF), issued_by=steward)

    files.remove("letters", name)
    with pytest.raises(RuntimeError, match=str(letter.code)):
        migrate(latest_targets())
    assert not (Path(settings.MEDIA_ROOT) / "documents").exists() or not any(
        (Path(settings.MEDIA_ROOT) / "documents").iterdir())

    migrate(before_targets())  # a failed migration rolled back; restore the file from "backup" and go again
    files.write("letters", name, PDF)
    migrate(latest_targets())

    moved = Letter.objects.select_related("document").get(code=letter.code)
    document = moved.document
    assert (document.kind, document.owner_code, document.version) == ("grievances.letter", str(grievance.code), 1)
    assert document.sha256 == hashlib.sha256(PDF).hexdigest() and document.created_by_id == steward.pk
    assert list(document.custody.values_list("action", "actor_id")) == [("stored", steward.pk)]
    assert document_read(document=document, actor_id=None) == PDF
    assert not (Path(settings.MEDIA_ROOT) / "letters" / f"{name}.bin").exists()
    raw = (Path(settings.MEDIA_ROOT) / "documents" / f"{document.storage_name}.bin").read_bytes()
    assert b"CANARY" not in raw
