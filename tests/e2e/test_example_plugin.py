"""The example plugin in examples/greeter, used as a user would."""

from __future__ import annotations

import importlib
import sys
import tomllib

import pytest

from tasky.registry import ENTRY_POINT_GROUP
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

GREETER = ROOT / "examples" / "greeter"


def test_greeter_packaging_registers_the_entry_point_tasky_reads():
    project = tomllib.loads((GREETER / "pyproject.toml").read_text())["project"]
    (target,) = project["entry-points"][ENTRY_POINT_GROUP].values()
    module_name, _, class_name = target.partition(":")
    sys.path.insert(0, str(GREETER))
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    finally:
        sys.path.remove(str(GREETER))
    assert cls.name == "greeter"


def test_greeter_runs_end_to_end_through_tasky_plugins(server_factory):
    server = server_factory(
        env={"TASKY_PLUGINS": "tasky_greeter", "PYTHONPATH": f"{ROOT}:{GREETER}"}
    )
    names = [w["name"] for w in server.get("/tasky/v1/workers/").json()]
    assert "greeter" in names
    task_id = server.submit("greeter", {"config": {"who": "Ada"}})
    done = server.wait_finished(task_id)
    assert done["status"] == "completed"
    result = server.get(f"/tasky/v1/tasks/{task_id}/result").json()
    assert "Ada" in str(result["output"])
    bad = server.post("/tasky/v1/workers/greeter", {"config": {}})
    assert bad.status_code == 422 and "who" in bad.json()["errors"]["config"]
