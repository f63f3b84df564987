"""The service is given its engine: it never imports the runner, nor the HTTP layer."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_layering import ROOT, imports_of


def test_the_service_imports_neither_the_runner_nor_the_http_layer():
    bad = {
        str(path.relative_to(ROOT)): hits
        for path in (ROOT / "tasky/service").rglob("*.py")
        if (
            hits := {
                m for m in imports_of(path) if m.startswith(("tasky.runner", "tasky.api", "flask"))
            }
        )
    }
    assert bad == {}


def test_the_service_is_a_package_of_small_modules():
    for path in Path(ROOT / "tasky/service").rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path
