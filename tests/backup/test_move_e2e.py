"""Moving a service from SQLite to PostgreSQL with ``tasky export`` and ``tasky import``:
real servers, tasks in every state, schedules of both kinds. Every task and schedule reads
back through the API as it was; the tasks that were running come back as after a crash;
the schedules go on firing exactly once per tick, on the new store's several processes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from tests.backup.helpers import api_view, export_lines, tasky
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TICK_LEAD = 15.0
"""Seconds from the export to the schedule's first tick: it fires on the new store only."""
TICKS = 5


def iso(instant: float) -> str:
    return datetime.fromtimestamp(instant, UTC).isoformat().replace("+00:00", "Z")


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def make_every_state(server) -> tuple[dict[str, str], list[str], list[str]]:
    """Finished, waiting and paused tasks (by name), running ones, and two schedules."""
    tasks = {
        "completed": server.submit("echo", {"config": {"message": "hé"}}),
        "failed": server.submit("copyfile", {"config": {"source": "no", "destination": "d"}}),
        "canceled": server.submit("sleeper", {"delay": 600}),
        "scheduled": server.submit("echo", {"delay": 3600, "timeout": 5, "max_retries": 2}),
        "paused": server.submit("echo", {"delay": 3600}),
        "keyed": server.submit("echo", {"delay": 3600, "idempotency_key": "move-me"}),
    }
    server.post(f"/tasky/v1/tasks/{tasks['canceled']}/cancel")
    server.post(f"/tasky/v1/tasks/{tasks['paused']}/actions", {"action": "pause"})
    for name in ("completed", "failed"):
        assert server.wait_finished(tasks[name])["status"] == name
    # A process runs 8 journal tasks at once: 8 running, the ninth queued.
    busy = [server.submit("journal", {"config": {"sleep": 120}}) for _ in range(9)]
    wait_for(lambda: sorted(server.status(i) for i in busy) == ["queued"] + ["running"] * 8)
    cron = server.post("/tasky/v1/workers/echo", {"cron": "0 3 * * *", "timezone": "Asia/Tokyo"})
    cron_id = cron.json()["schedule_id"]
    ran = server.post(f"/tasky/v1/schedules/{cron_id}/actions", {"action": "run"})
    tasks["a run"] = ran.json()["task_id"]
    start_at = time.time() + TICK_LEAD
    interval = server.post(
        "/tasky/v1/workers/journal",
        {
            "interval": 1,
            "overlap": "allow",
            "start_at": iso(start_at),
            "end_at": iso(start_at + TICKS - 0.5),
        },
    )
    assert server.wait_finished(tasks["a run"])["status"] == "completed"
    return tasks, busy, [cron_id, interval.json()["schedule_id"]]


def test_a_move_from_sqlite_to_postgresql(server_factory, database, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = server_factory(1, data=tmp_path / "old")
    tasks, busy, schedules = make_every_state(old)
    before = api_view(lambda path: old.get(path).json(), tasks.values(), schedules)

    backup = tmp_path / "backup.ndjson"
    done = tasky(old, "export", "-o", str(backup))
    assert done.returncode == 0, done.stderr
    old.stop()
    header, records = export_lines(backup.read_bytes())
    assert header["store"] == "sqlite"
    assert header["counts"] == {"chains": 0, "schedules": 2, "tasks": len(tasks) + len(busy)}
    assert len(records) == 2 + len(tasks) + len(busy)

    new = server_factory(2, {"TASKY_DATABASE_URL": database}, data=tmp_path / "new")
    done = tasky(new, "import", "-", stdin=backup.read_bytes())
    assert done.returncode == 0, done.stderr
    count = len(tasks) + len(busy)
    assert f"imported 2 schedules, {count} tasks".encode() in done.stdout
    assert b"8 running tasks recovered" in done.stdout

    after = api_view(lambda path: new.get(path).json(), tasks.values(), schedules)
    assert after == before
    # A runner busy recovering may miss a ping (503): its health is read once it answers.
    health = wait_for(lambda: (h := new.get("/tasky/v1/health")).status_code == 200 and h.json())
    assert health["store"] == "postgresql"
    # The eight that ran when the export was taken failed as after a crash; the one that
    # waited for a slot runs on the new store.
    moved = {i: new.get(f"/tasky/v1/tasks/{i}").json() for i in busy}
    interrupted = [t for t in moved.values() if t["status"] == "failed"]
    assert len(interrupted) == 8 and {t["error"] for t in interrupted} == {"interrupted"}
    (waiting,) = [t for t in moved.values() if t["status"] != "failed"]
    wait_for(lambda: new.status(waiting["task_id"]) == "running", timeout=30)

    # The interval schedule fires on the new store only, once per tick.
    schedule_id = schedules[1]
    record = new.get(f"/tasky/v1/schedules/{schedule_id}").json()
    grid = [epoch(record["start_at"]) + k for k in range(TICKS)]
    wait_for(lambda: new.get(f"/tasky/v1/schedules/{schedule_id}").json()["runs"] == TICKS, 60)
    runs = new.get(f"/tasky/v1/tasks/?schedule_id={schedule_id}&limit=100").json()["tasks"]
    assert sorted(epoch(run["execute_at"]) for run in runs) == pytest.approx(grid, abs=1e-5)
    for run in runs:
        assert new.wait_finished(run["task_id"])["status"] == "completed"
    executed = new.runs()
    assert all(executed[run["task_id"]] == 1 for run in runs)
    final = new.get(f"/tasky/v1/schedules/{schedule_id}").json()
    assert final["runs"] == TICKS and final["next_run_at"] is None

    # A second import changes nothing: every id is there already.
    again = tasky(new, "import", "--json", str(backup))
    report = json.loads(again.stdout)
    assert report["imported"] == {"chains": 0, "schedules": 0, "tasks": 0}
    assert report["skipped"] == {"chains": 0, "schedules": 2, "tasks": count}
