"""``/metrics`` of a real gunicorn server of four processes, each with its runner: whichever
process answers a scrape, it reports the sum of all of them."""

from __future__ import annotations

import os
import signal
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.metrics.helpers import value
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TASKS = 40
SLOW = {"config": {"sleep": 0.3}}


def scrape(server) -> str:
    resp = server.get("/metrics")
    assert resp.status_code == 200, resp.text
    return resp.text


def test_every_scrape_sums_every_process(server_factory, tmp_path):
    server = server_factory(processes=4, env={"TASKY_METRICS_DIR": str(tmp_path / "metrics")})
    # Tasks that take a while, submitted on several connections at once: more than one HTTP
    # process takes submits, more than one runner runs tasks.
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: server.submit("journal", SLOW), range(TASKS)))
    for task_id in ids:
        assert server.wait_finished(task_id)["status"] == "completed"
    finished = lambda text: value(text, "tasky_tasks_finished_total", worker="journal")  # noqa: E731
    wait_for(lambda: finished(scrape(server)) == TASKS, timeout=10)
    for _ in range(10):
        text = scrape(server)
        assert finished(text) == TASKS
        assert value(text, "tasky_tasks_finished_total", status="completed") == TASKS
        assert value(text, "tasky_tasks_submitted_total", worker="journal") == TASKS
        assert value(text, "tasky_attempt_duration_seconds_count", worker="journal") == TASKS
        submits = value(
            text,
            "tasky_http_requests_total",
            route="/tasky/v1/workers/<name>",
            method="POST",
            code="201",
        )
        assert submits == TASKS
    assert len(set(server.runs().values())) == 1  # each task ran once
    executed_in = {line.split()[1] for line in server.journal.read_text().splitlines()}
    assert len(executed_in) > 1, "the tasks should have spread over several runners"


def test_a_runner_that_dies_leaves_no_live_gauge_behind(server_factory, tmp_path):
    server = server_factory(processes=2, env={"TASKY_METRICS_DIR": str(tmp_path / "metrics")})
    slots = lambda: value(scrape(server), "tasky_runner_slots", worker="journal")  # noqa: E731
    first = wait_for(lambda: len(live := heartbeats(server)) == 2 and live, timeout=30)
    assert slots() == 2 * 8
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    # Its HTTP process starts another; that one's heartbeat comes after its slots are set.
    wait_for(lambda: len(heartbeats(server) - first) == 1, timeout=30)
    assert slots() == 2 * 8  # without the mark of its death, the dead one's would stay


def heartbeats(server) -> set[int]:
    """The pids of the runners whose heartbeat is in the store, and that are alive."""
    with sqlite3.connect(f"file:{server.data}/tasks.db?mode=ro", uri=True) as db:
        pids = {pid for (pid,) in db.execute("SELECT pid FROM runners")}
    return {pid for pid in pids if _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
