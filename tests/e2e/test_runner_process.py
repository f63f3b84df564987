"""Each gunicorn worker process forks a runner process: tasks run there, and the two live and
die together."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SLOW_POLL = {"TASKY_POLL_INTERVAL": "30"}
"""The scheduler's own look at the store comes too late for a test's deadline: what happens
in time was handed to the runner process."""


def pairs(server) -> dict[int, list[int]]:
    """Each HTTP worker process of the server, with its children."""
    master = psutil.Process(server.proc.pid)
    return {worker.pid: [child.pid for child in worker.children()] for worker in master.children()}


def running_pairs(server, count: int = 1, other_than: int | None = None) -> list[tuple[int, int]]:
    """Each of the server's ``count`` HTTP processes with its runner process, once all run
    (and none of the HTTP processes is ``other_than``)."""

    def ready():
        found = pairs(server)
        if (
            len(found) == count
            and other_than not in found
            and all(len(runners) == 1 for runners in found.values())
        ):
            return [(http, runners[0]) for http, runners in found.items()]
        return None

    return wait_for(ready, timeout=30)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_submit_is_stored_by_the_runner_process_and_runs_at_once(server_factory):
    server = server_factory(env=SLOW_POLL)
    ((http, runner),) = running_pairs(server)
    task_id = server.submit("journal")
    assert server.wait_finished(task_id, timeout=5)["status"] == "completed"
    output = server.get(f"/tasky/v1/tasks/{task_id}/result").json()["output"]
    assert output == {"pid": runner}


def test_a_cancel_reaches_the_runner_process_through_the_pipe(server_factory):
    server = server_factory(env=SLOW_POLL)
    task_id = server.submit("sleeper", {"config": {"seconds": 60}})
    wait_for(lambda: server.status(task_id) == "running", timeout=5)
    assert server.post(f"/tasky/v1/tasks/{task_id}/cancel").status_code == 202
    wait_for(lambda: server.status(task_id) == "canceled", timeout=1.5)


@pytest.mark.parametrize("killed", ["runner", "http"])
def test_the_http_and_runner_processes_live_and_die_together(server_factory, killed):
    """Killed, either one takes the other along (the runner hands its tasks back first), and
    gunicorn starts a new pair."""
    server = server_factory()
    ((http, runner),) = running_pairs(server)
    os.kill(runner if killed == "runner" else http, signal.SIGKILL)
    wait_for(lambda: gone(http) and gone(runner), timeout=20)
    running_pairs(server, other_than=http)
    task_id = server.submit("journal")
    assert server.wait_finished(task_id)["status"] == "completed"


def test_a_stopped_server_leaves_no_runner_process(server_factory):
    server = server_factory(processes=2)
    runners = [runner for _, runner in running_pairs(server, count=2)]
    server.stop()
    assert server.proc.returncode == 0
    wait_for(lambda: all(gone(pid) for pid in runners), timeout=5)
