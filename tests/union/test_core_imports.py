"""The core (`union/`) imports none of the feature apps; only the URL and ASGI wiring names them.

Rooms and bargaining will build on the core; a core that reached back into membership would tie
every new app to it and let a change there break the sockets, the audit chain or the crypto.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UNION = Path(__file__).resolve().parents[2] / "union"
FEATURE_APPS = frozenset({"membership", "grievances", "messaging", "bargaining"})
# The wiring: where the project is put together, so naming the apps is its job.
WIRING = frozenset({"urls.py", "asgi.py", "routing.py", "settings.py"})


def feature_imports(path: Path) -> list[str]:
    """Every import of a feature app in the file, with its line, static or through import_module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              {"import_module", "__import__", "import_string"} and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        if names and isinstance(node, ast.stmt | ast.expr):  # imports are statements, import_module() calls
            found += [f"{path.name}:{node.lineno} {name}" for name in names if name.split(".")[0] in FEATURE_APPS]
    return found


def core_modules() -> list[Path]:
    return sorted(p for p in UNION.rglob("*.py") if not (p.parent == UNION and p.name in WIRING))


def test_the_walk_sees_the_core() -> None:
    names = {p.name for p in core_modules()}
    assert {"consumers.py", "realtime.py", "views.py", "audit.py", "crypto.py"} <= names
    assert not any(p.parent == UNION and p.name in WIRING for p in core_modules())


def test_the_check_catches_an_import(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text("import os\nfrom membership.models import User\n"
                      "def f():\n    import grievances.services\n    import_module('bargaining.x')\n")
    assert [line.split(" ", 1)[1] for line in feature_imports(module)] == [
        "membership.models", "grievances.services", "bargaining.x"]


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(UNION)))
def test_the_core_imports_no_feature_app(path: Path) -> None:
    assert feature_imports(path) == []
