"""Roles on PostgreSQL: an API-only server (``TASKY_RUNNER=off``) in front, headless
``tasky runner`` processes behind it, sharing only the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import ROOT
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture
def runner_factory(tmp_path):
    """Start ``tasky runner`` processes on a database; stopped (SIGTERM) at the end."""
    procs = []

    def start(database: str, journal) -> subprocess.Popen:
        env = {
            **os.environ,
            "TASKY_DATABASE_URL": database,
            "TASKY_PLUGINS": "tests.e2e.journal_plugin",
            "TASKY_TEST_JOURNAL": str(journal),
            "PYTHONPATH": str(ROOT),
        }
        with open(tmp_path / f"runner-{len(procs)}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tasky", "runner"],
                env=env,
                stdout=log,
                stderr=log,
                cwd=tmp_path,
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(20)


def test_an_api_node_and_two_runners_run_1000_tasks_exactly_once(
    database, server_factory, runner_factory, tmp_path
):
    api = server_factory(env={"TASKY_DATABASE_URL": database, "TASKY_RUNNER": "off"})
    health = api.get("/tasky/v1/health").json()
    assert health["runner"] == "off"
    first = runner_factory(database, api.journal)
    second = runner_factory(database, api.journal)
    runners = wait_for(  # a deadline for two interpreters starting on a loaded machine
        lambda: len(r := api.get("/tasky/v1/runners").json()["runners"]) == 2 and r, timeout=60
    )
    assert {r["pid"] for r in runners} == {first.pid, second.pid}
    assert all(r["status"] == "live" and "journal" in r["workers"] for r in runners)

    # Every task waits for the gate: each runner fills its slots and holds them, so neither
    # can take all the work before the other claims.
    gate = api.journal.parent / "open"
    task = {"config": {"until": str(gate)}}
    with ThreadPoolExecutor(4) as pool:  # 20 batches of 50, while the runners claim
        batches = list(pool.map(lambda _: api.submit_batch("journal", 50, task), range(20)))
    ids = [task_id for batch in batches for task_id in batch]
    assert len(set(ids)) == 1000

    def ran_in() -> set[str]:
        return {line.split()[1] for line in api.journal.read_text().splitlines()}

    wait_for(
        lambda: api.journal.exists() and ran_in() == {str(first.pid), str(second.pid)}, timeout=30
    )
    gate.touch()
    wait_for(lambda: sum(api.runs().values()) >= 1000, timeout=120, interval=0.1)
    done = api.runs()
    assert set(done) == set(ids) and max(done.values()) == 1


def test_a_cancel_sent_to_the_api_node_stops_a_sleeper_on_a_runner_within_1s(
    database, server_factory, runner_factory
):
    api = server_factory(env={"TASKY_DATABASE_URL": database, "TASKY_RUNNER": "off"})
    runner_factory(database, api.journal)
    sleeper = api.submit("sleeper", {"config": {"seconds": 60}})
    wait_for(lambda: api.status(sleeper) == "running", timeout=10)
    asked = time.monotonic()
    assert api.post(f"/tasky/v1/tasks/{sleeper}/cancel").status_code == 202
    wait_for(lambda: api.status(sleeper) == "canceled", timeout=2)
    assert time.monotonic() - asked < 1.0


def test_a_stopped_runner_leaves_the_list_and_hands_its_task_back(
    database, server_factory, runner_factory
):
    api = server_factory(env={"TASKY_DATABASE_URL": database, "TASKY_RUNNER": "off"})
    runner = runner_factory(database, api.journal)
    task = api.submit("sleeper", {"config": {"seconds": 60}, "max_retries": 1})
    wait_for(lambda: api.status(task) == "running", timeout=10)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(20) == 0
    record = api.get(f"/tasky/v1/tasks/{task}").json()
    assert (record["status"], record["attempts"]) == ("queued", 1)
    assert api.get("/tasky/v1/runners").json()["runners"] == []
