"""The import rules: the HTTP layer never touches the store; workers know nothing of HTTP,
storage or the engine; the engine never imports the HTTP layer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    bad = {}
    for path in (ROOT / folder).rglob("*.py"):
        hits = {m for m in imports_of(path) if m.startswith(forbidden)}
        if hits:
            bad[str(path.relative_to(ROOT))] = hits
    return bad


def test_api_does_not_touch_the_store_or_the_engine():
    assert (
        offenders(
            "tasky/api",
            ("tasky.stores", "tasky.runner", "sqlite3"),
        )
        == {}
    )


def test_workers_import_only_the_plugin_api():
    allowed_tasky = {"tasky.worker", "tasky.config"}
    bad = {
        path: {m for m in mods if m not in allowed_tasky}
        for path, mods in offenders("workers", ("tasky", "flask")).items()
    }
    assert {path: mods for path, mods in bad.items() if mods} == {}


def test_engine_does_not_import_the_http_layer():
    engine = [p for p in (ROOT / "tasky").glob("*.py") if p.name != "factory.py"]
    engine += list((ROOT / "tasky/stores").glob("*.py")) + list(
        (ROOT / "tasky/runner").glob("*.py")
    )
    assert {
        str(p): imports_of(p) & {"flask", "tasky.api"}
        for p in engine
        if imports_of(p) & {"flask", "tasky.api"}
    } == {}
