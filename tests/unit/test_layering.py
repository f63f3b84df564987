"""The import rules between layers: the HTTP layer never touches the store or the runner;
the service uses the store's interface, never a driver, and never imports the runner (it
sees it through its Engine protocol); stores never
read a trigger or a worker; workers know nothing of HTTP, storage or the engine; the engine
never imports the HTTP layer. A module matches a rule by prefix, so a submodule import
across layers counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HTTP = ("tasky.api", "flask", "flask_smorest", "werkzeug")
STORAGE = ("tasky.stores", "sqlite3", "psycopg", "psycopg_pool")


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    bad = {}
    for path in (ROOT / folder).rglob("*.py"):
        hits = {m for m in imports_of(path) if matches(m, forbidden)}
        if hits:
            bad[str(path.relative_to(ROOT))] = hits
    return bad


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("tasky/api", (*STORAGE, "tasky.runner")),
        ("tasky/service", (*HTTP, "tasky.runner", "sqlite3", "psycopg", "psycopg_pool")),
        (
            "tasky/stores",
            (
                *HTTP,
                "tasky.service",
                "tasky.runner",
                "tasky.triggers",
                "tasky.schedules",
                "tasky.worker",
                "tasky.registry",
                "workers",
            ),
        ),
        ("tasky/runner", (*HTTP, "tasky.service")),
    ],
)
def test_layers_import_only_downwards(folder, forbidden):
    assert offenders(folder, forbidden) == {}


def test_workers_import_only_the_plugin_api():
    allowed = ("tasky.worker", "tasky.config", "tasky.netguard")
    bad = {
        path: {m for m in mods if not matches(m, allowed)}
        for path, mods in offenders("workers", ("tasky", "flask")).items()
    }
    assert {path: mods for path, mods in bad.items() if mods} == {}


def test_the_prefix_rule_sees_a_submodule_import():
    assert matches("tasky.api.errors", ("tasky.api",))
    assert not matches("tasky.apis", ("tasky.api",))
