"""Each process that loads the app starts a runner process beside it: tasks run there; a
runner that dies is reported and started again; a runner whose HTTP process is gone stops."""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest

from tests.e2e.conftest import ROOT
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SLOW_POLL = {"TASKY_POLL_INTERVAL": "30"}
"""The scheduler's own look at the store comes too late for a test's deadline: what happens
in time was handed to the runner process."""


@pytest.fixture(scope="module")
def slow_poll_server(module_server_factory):
    """One server for the tests that need ``SLOW_POLL`` and leave it serving (a runner killed
    by one of them is started again)."""
    return module_server_factory(env=SLOW_POLL)


def runner_processes(server) -> list[psutil.Process]:
    """The server's runner processes (``tasky runner --attach``), wherever they hang."""
    found = []
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if "--attach" in proc.cmdline() and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def live_runners(server, count: int = 1, other_than: set[int] = frozenset()) -> list[int]:
    """The pids of the server's ``count`` runners, once that many run (none in
    ``other_than``) and its health says so."""

    def ready():
        pids = [proc.pid for proc in runner_processes(server)]
        healthy = server.get("/tasky/v1/health").status_code == 200
        return healthy and len(pids) == count and not set(pids) & other_than and pids

    return wait_for(ready, timeout=30)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_submit_runs_in_the_runner_process_at_once(slow_poll_server):
    server = slow_poll_server
    (runner,) = live_runners(server)
    task_id = server.submit("journal")
    assert server.wait_finished(task_id, timeout=5)["status"] == "completed"
    output = server.get(f"/tasky/v1/tasks/{task_id}/result").json()["output"]
    assert output == {"pid": runner}


def test_a_cancel_reaches_the_runner_process_through_the_channel(slow_poll_server):
    server = slow_poll_server
    task_id = server.submit("sleeper", {"config": {"seconds": 60}})
    wait_for(lambda: server.status(task_id) == "running", timeout=5)
    assert server.post(f"/tasky/v1/tasks/{task_id}/cancel").status_code == 202
    wait_for(lambda: server.status(task_id) == "canceled", timeout=1.5)


def test_a_dead_runner_is_reported_and_started_again_and_nothing_is_lost(slow_poll_server):
    server = slow_poll_server
    (runner,) = live_runners(server)
    os.kill(runner, signal.SIGKILL)
    down = wait_for(
        lambda: (r := server.get("/tasky/v1/health")).status_code == 503 and r.json(), 5
    )
    assert (
        down["message"]
        == "runner down: the runner process was killed by SIGKILL; restarting in 1 s"
    )
    accepted = server.submit("journal")  # stored by the HTTP process while no runner answers
    (replacement,) = live_runners(server, other_than={runner})
    assert server.wait_finished(accepted, timeout=10)["status"] == "completed"
    log = server.log.read_text()
    assert "the runner process was killed by SIGKILL; restarting in 1 s" in log
    assert f"runner process {replacement} started" in log


def test_a_runner_whose_http_process_is_killed_stops_and_hands_its_task_back(server_factory):
    server = server_factory()
    (runner,) = live_runners(server)
    http = psutil.Process(runner).parent().pid
    task_id = server.submit("sleeper", {"config": {"seconds": 60}, "max_retries": 1})
    wait_for(lambda: server.status(task_id) == "running", timeout=5)
    os.kill(http, signal.SIGKILL)
    wait_for(lambda: gone(runner), timeout=15)
    live_runners(server, other_than={runner})  # gunicorn's new worker has a new runner
    task = wait_for(
        lambda: (t := server.get(f"/tasky/v1/tasks/{task_id}").json())["attempts"] == 2 and t,
        timeout=15,
    )
    assert task["status"] == "running"


def test_a_stopped_server_leaves_no_runner_process(server_factory):
    server = server_factory(processes=2)
    runners = live_runners(server, count=2)
    server.stop()
    assert server.proc.returncode == 0
    wait_for(lambda: all(gone(pid) for pid in runners), timeout=10)


def test_the_workers_of_a_preloading_master_share_its_one_runner(server_factory, tmp_path):
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(ROOT),
        "--preload",
        "-w",
        "3",
        "-b",
        "127.0.0.1:{port}",
        "app:app",
    ]
    server = server_factory(argv=argv, cwd=tmp_path, env=SLOW_POLL)
    (runner,) = live_runners(server)
    assert psutil.Process(runner).parent().pid == server.proc.pid
    task_ids = [server.submit("journal") for _ in range(20)]  # spread over the 3 workers
    for task_id in task_ids:
        assert server.wait_finished(task_id, timeout=5)["status"] == "completed"
    assert set(server.runs().values()) == {1}
    sleeper = server.submit("sleeper", {"config": {"seconds": 60}})
    wait_for(lambda: server.status(sleeper) == "running", timeout=5)
    assert server.post(f"/tasky/v1/tasks/{sleeper}/cancel").status_code == 202
    wait_for(lambda: server.status(sleeper) == "canceled", timeout=1.5)
