"""What a client reads of tasks and schedules (the records an export must restore), and the
``tasky`` command run against a server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import ROOT


def api_view(get: Callable[[str], Any], task_ids, schedule_ids) -> dict[str, Any]:
    """Every task's full record and result, every schedule's record, by id, through ``get``
    (a function of a path to its answer's JSON)."""
    return {
        **{f"task {i}": get(f"/tasky/v1/tasks/{i}") for i in task_ids},
        **{f"result {i}": get(f"/tasky/v1/tasks/{i}/result") for i in task_ids},
        **{f"schedule {i}": get(f"/tasky/v1/schedules/{i}") for i in schedule_ids},
    }


def export_lines(body: bytes) -> tuple[dict, list[dict]]:
    """An export's header and its records."""
    header, *records = (json.loads(line) for line in body.splitlines() if line.strip())
    return header, records


def tasky(server, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """``tasky --url <server> ARGS``, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tasky", "--url", server.url, *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
