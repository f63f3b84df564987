"""Several gunicorn processes on one SQLite file; crashes and restarts.

The tests that crash or restart nothing share one server of four processes (``server``),
each looking at its own tasks only; they come last, so that it starts after the others'
servers are gone."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import requests

from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory(processes=4, env={"TASKY_MIN_INTERVAL": "0.1"})


def journal_stats(server) -> dict:
    return server.get("/tasky/v1/workers/journal/statistics").json()


def test_kill_9_loses_no_accepted_task(server_factory, tmp_path):
    server = server_factory(processes=2)
    sleepers = [
        server.submit("sleeper", {"config": {"seconds": 60}, "max_retries": i % 2})
        for i in range(4)
    ]
    wait_for(lambda: all(server.status(t) == "running" for t in sleepers))
    future = [server.submit("journal", {"delay": 3}) for _ in range(20)]
    accepted: list[str] = []
    stop = threading.Event()

    def submit_until_killed():
        while not stop.is_set():
            try:
                resp = server.post("/tasky/v1/workers/journal", {"delay": 1})
            except requests.RequestException:
                return
            if resp.status_code == 201:
                accepted.append(resp.json()["task_id"])

    submitter = threading.Thread(target=submit_until_killed)
    submitter.start()
    wait_for(lambda: len(accepted) >= 50)
    server.kill9()
    stop.set()
    submitter.join(10)

    again = server_factory(processes=2, data=tmp_path)
    for task_id in accepted + future:
        task = again.wait_finished(task_id, timeout=30)
        # One due (and running) at the kill, on a loaded machine, ended as the sleepers do.
        assert task["status"] == "completed" or (
            (task["status"], task["error"], task["attempts"]) == ("failed", "interrupted", 1)
        ), task
    for task_id in sleepers:
        task = again.get(f"/tasky/v1/tasks/{task_id}").json()
        if task["max_retries"]:
            assert task["attempts"] == 2 and task["status"] == "running"
        else:
            assert (task["status"], task["error"]) == ("failed", "interrupted")
    assert max(again.runs().values()) == 1


def test_graceful_restart_hands_running_tasks_back(server_factory, tmp_path):
    server = server_factory()
    task_id = server.submit("sleeper", {"config": {"seconds": 60}, "max_retries": 1})
    wait_for(lambda: server.status(task_id) == "running")
    server.stop()
    again = server_factory(data=tmp_path)
    task = wait_for(
        lambda: (
            (t := again.get(f"/tasky/v1/tasks/{task_id}").json())["attempts"] == 2
            and t["status"] == "running"
            and t
        )
    )
    assert task["error"] == "interrupted"


def test_task_due_while_down_runs_when_back_and_shows_lateness(server_factory, tmp_path):
    server = server_factory()
    task_id = server.submit("journal", {"delay": 0.5})
    due_at = server.get(f"/tasky/v1/tasks/{task_id}").json()["execute_at"]
    server.kill9()
    wait_for(lambda: time.time() > _epoch(due_at) + 1.0, timeout=5)
    again = server_factory(data=tmp_path)
    assert again.wait_finished(task_id)["status"] == "completed"
    stats = again.get(f"/tasky/v1/tasks/{task_id}/statistics").json()
    assert stats["lateness"] >= 1.0


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_four_processes_run_each_task_exactly_once(server, tmp_path):
    before = journal_stats(server)  # the module's other tests' tasks are counted too
    # The batch waits for the gate: each process fills its slots with it and holds them, so
    # one process cannot take all the work before the others start.
    gate = tmp_path / "open"
    ids = server.submit_batch("journal", 300, {"config": {"until": str(gate)}})
    own = set(ids)

    def pids() -> set[str]:
        if not server.journal.exists():
            return set()
        lines = [line.split() for line in server.journal.read_text().splitlines()]
        return {pid for task_id, pid, *_ in lines if task_id in own}

    wait_for(lambda: len(pids()) == 4, timeout=30)
    gate.touch()
    ids += [server.submit("journal", {"delay": 0.2}) for _ in range(100)]
    wait_for(lambda: sum(server.runs(of=ids).values()) >= 400, timeout=60)
    for task_id in ids[:20] + ids[-20:]:
        assert server.wait_finished(task_id)["status"] == "completed"
    runs = server.runs(of=ids)
    assert set(runs) == set(ids)
    assert max(runs.values()) == 1
    assert journal_stats(server)["submitted"] - before["submitted"] == 400
    wait_for(
        lambda: journal_stats(server)["completed"] - before["completed"] == 400,
        timeout=30,
    )


def test_cancel_reaches_the_process_running_the_task(server):
    for _ in range(3):
        task_id = server.submit("sleeper", {"config": {"seconds": 60}})
        wait_for(lambda: server.status(task_id) == "running")
        resp = server.post(f"/tasky/v1/tasks/{task_id}/cancel")
        assert resp.status_code == 202 and resp.json()["status"] == "canceling"
        wait_for(lambda: server.status(task_id) == "canceled", timeout=1.5)


def test_four_processes_fire_each_schedule_tick_exactly_once(server):
    resp = server.post("/tasky/v1/workers/journal", {"interval": 0.2, "overlap": "allow"})
    assert resp.status_code == 201, resp.text
    schedule_id = resp.json()["schedule_id"]
    wait_for(
        lambda: server.get(f"/tasky/v1/schedules/{schedule_id}").json()["runs"] >= 15, timeout=30
    )
    paused = server.post(f"/tasky/v1/schedules/{schedule_id}/actions", {"action": "pause"})
    assert paused.status_code == 200
    runs = paused.json()["runs"]
    tasks = server.get(f"/tasky/v1/tasks/?schedule_id={schedule_id}&limit=1000").json()["tasks"]
    ticks = sorted(_epoch(t["execute_at"]) for t in tasks)
    assert len(ticks) == len(set(ticks)) == runs
    for earlier, later in itertools.pairwise(ticks):
        assert later - earlier == pytest.approx(0.2, abs=1e-3), "a tick was lost or doubled"
    for task in tasks:
        server.wait_finished(task["task_id"])
    own = [t["task_id"] for t in tasks]
    assert set(server.runs(of=own)) == set(own)
    assert max(server.runs(of=own).values()) == 1
