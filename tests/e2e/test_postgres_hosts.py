"""Several hosts on one PostgreSQL database, played on one machine: separate gunicorn servers
(own port, own files, own journal), each of several processes, sharing only the database."""

from __future__ import annotations

import itertools
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from tasky.ids import new_id
from tasky.models import NewTask
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

LEASE = 3.0


@pytest.fixture
def hosts(database, server_factory, tmp_path):
    """Start servers ("hosts") on the database, one after the other (the processes of each
    start together); each is named by its data folder and gets ``env`` over the defaults."""

    def start(*names: str, processes: int = 2, env: dict[str, dict[str, str]] | None = None):
        servers = []
        for name in names:
            data = tmp_path / name
            data.mkdir()
            servers.append(
                server_factory(
                    processes, {"TASKY_DATABASE_URL": database, **(env or {}).get(name, {})}, data
                )
            )
        return servers

    return start


def runs(*servers) -> Counter:
    return sum((server.runs() for server in servers), Counter())


def pids(server) -> set[str]:
    if not server.journal.exists():
        return set()
    return {line.split()[1] for line in server.journal.read_text().splitlines()}


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_two_hosts_run_each_of_1000_tasks_exactly_once(hosts, tmp_path):
    a, b = hosts("a", "b")
    servers = [a, b]
    # Every task waits for the gate: each process fills its slots and holds them, so none
    # can take all the work before the others start, and every process is seen working.
    gate = tmp_path / "open"
    task = {"config": {"until": str(gate)}}
    with ThreadPoolExecutor(4) as pool:  # 20 batches of 50, half through each host
        batches = list(
            pool.map(lambda i: servers[i % 2].submit_batch("journal", 50, task), range(20))
        )
    ids = [task_id for batch in batches for task_id in batch]
    assert len(set(ids)) == 1000
    wait_for(lambda: len(pids(a)) == 2 and len(pids(b)) == 2, timeout=30)
    gate.touch()
    wait_for(lambda: sum(runs(a, b).values()) >= 1000, timeout=120, interval=0.1)
    done = runs(a, b)
    assert set(done) == set(ids)
    assert max(done.values()) == 1, "a task ran twice"
    wait_for(
        lambda: b.get("/tasky/v1/workers/journal/statistics").json()["completed"] == 1000,
        timeout=30,
    )
    assert sum(runs(a, b).values()) == 1000


def test_kill_9_of_a_host_its_tasks_are_taken_over_after_the_lease(hosts, tmp_path):
    env = {"TASKY_LEASE": str(LEASE)}
    (a,) = hosts("a", env={"a": env})
    # Only host a runs yet: these are its tasks, retried or failed by b once a is gone. They
    # run until the gate opens, after the kill (their second attempts end at once).
    gate = tmp_path / "open"
    running = {
        a.submit("journal", {"config": {"until": str(gate)}, "max_retries": i % 2}): i % 2
        for i in range(4)
    }
    wait_for(lambda: all(a.status(t) == "running" for t in running), timeout=10)
    (b,) = hosts("b", env={"b": env})
    # Every runner of b up before the kill: one starting later would see a's processes gone
    # (same machine) and take their tasks at once, not after the lease as another host must.
    wait_for(lambda: len(re.findall(r"runner \S+ started", b.log.read_text())) == 2, timeout=10)
    # Stored by a just before it dies, due well after: none can have started on a.
    waiting = [a.submit("journal", {"delay": 5}) for _ in range(20)]
    a.kill9()
    killed_at = time.time()
    gate.touch()

    for task_id, retries in running.items():
        task = b.wait_finished(task_id, timeout=40)
        if retries:
            assert (task["status"], task["attempts"]) == ("completed", 2)
        else:
            assert (task["status"], task["error"]) == ("failed", "interrupted")
            # Taken over once its lease (renewed until the kill) ran out, not before.
            assert killed_at + LEASE / 3 <= epoch(task["finished_at"]) <= killed_at + LEASE + 3
    for task_id in waiting:
        assert b.wait_finished(task_id, timeout=30)["status"] == "completed"
    done = runs(a, b)
    assert all(done[t] == 1 for t in waiting)
    assert all(done[t] == 1 + retries for t, retries in running.items())
    assert all(t not in b.runs() for t, retries in running.items() if not retries)


def test_cancel_and_new_work_reach_other_hosts_without_polling(hosts, database):
    # With polls 5 s apart, only LISTEN/NOTIFY can bring news within 1 s.
    slow = {"TASKY_POLL_INTERVAL": "5"}
    a, b = hosts("a", "b", env={"a": {**slow, "TASKY_ENABLE_BASH": "1"}, "b": slow})

    # bash runs on host a only; the cancel goes through host b.
    for _ in range(3):
        task_id = a.submit("bash", {"config": {"command": "sleep 60"}})
        wait_for(lambda: a.status(task_id) == "running", timeout=10)
        time.sleep(0.3)  # let both hosts fall asleep again
        resp = b.post(f"/tasky/v1/tasks/{task_id}/cancel")
        assert resp.status_code == 202 and resp.json()["status"] == "canceling"
        wait_for(lambda: b.status(task_id) == "canceled", timeout=1.0)

    # Tasks stored by a third party (no runner of its own to wake) start on time.
    from tasky.stores.postgres import PostgresStore

    store = PostgresStore(database)
    try:
        for delay in (0, 0.5, 1.5):
            time.sleep(0.3)
            now = time.time()
            new = NewTask(
                id=new_id(now),
                worker="journal",
                config={"sleep": 0},
                execute_at=now + delay,
                created_at=now,
            )
            ((task, _),) = store.create_tasks([new])
            wait_for(lambda: task.id in runs(a, b), timeout=delay + 1.0)
            started = wait_for(lambda: b.get(f"/tasky/v1/tasks/{task.id}").json()["started_at"])
            assert epoch(started) - (now + delay) < 0.5
    finally:
        store.close()


def test_each_schedule_tick_fires_once_across_hosts(hosts):
    floor = {"TASKY_MIN_INTERVAL": "0.1"}
    a, b = hosts("a", "b", env={"a": floor, "b": floor})
    resp = a.post("/tasky/v1/workers/journal", {"interval": 0.2, "overlap": "allow"})
    assert resp.status_code == 201, resp.text
    schedule_id = resp.json()["schedule_id"]
    wait_for(lambda: b.get(f"/tasky/v1/schedules/{schedule_id}").json()["runs"] >= 20, timeout=30)
    paused = b.post(f"/tasky/v1/schedules/{schedule_id}/actions", {"action": "pause"})
    assert paused.status_code == 200, paused.text
    tasks = a.get(f"/tasky/v1/tasks/?schedule_id={schedule_id}&limit=1000").json()["tasks"]
    ticks = sorted(epoch(t["execute_at"]) for t in tasks)
    assert len(ticks) == len(set(ticks)) == paused.json()["runs"]
    for earlier, later in itertools.pairwise(ticks):
        assert later - earlier == pytest.approx(0.2, abs=1e-3), "a tick was lost or doubled"
    for task in tasks:
        a.wait_finished(task["task_id"])
    assert set(runs(a, b)) == {t["task_id"] for t in tasks}
    assert max(runs(a, b).values()) == 1


def test_a_child_of_parents_on_two_hosts_runs_once(hosts):
    a, b = hosts("a", "b")
    body = {"tasks": [{"config": {"sleep": 0.2}}] * 25}
    parents = a.post("/tasky/v1/workers/journal/batch", body).json()["task_ids"]
    parents += b.post("/tasky/v1/workers/journal/batch", body).json()["task_ids"]
    child = b.submit("journal", {"depends_on": parents})
    steps = [{"step": "s0", "worker": "journal"}] + [
        {"step": f"s{i}", "worker": "journal", "depends_on": [f"s{i - 1}"]} for i in range(1, 10)
    ]
    chain = a.post("/tasky/v1/chains", {"steps": steps}).json()
    assert b.wait_finished(child, timeout=60)["status"] == "completed"
    wait_for(
        lambda: b.get(f"/tasky/v1/chains/{chain['chain_id']}").json()["status"] == "completed",
        timeout=60,
    )
    done = runs(a, b)
    assert set(done) == {*parents, child, *chain["steps"].values()}
    assert max(done.values()) == 1, "a task ran twice"
    assert pids(a) and pids(b), "one host did all the work"
