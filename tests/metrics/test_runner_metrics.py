"""What a runner counts, on a real SQLite file: submits, outcomes, retries, recoveries,
attempt durations and lateness, schedule ticks, misfires and overlap skips, slots."""

from __future__ import annotations

import threading
import time

import marshmallow as ma
import pytest

from tasky.config import Settings
from tasky.ids import new_id
from tasky.models import NewTask, Schedule, ScheduleState
from tasky.registry import Registry
from tasky.runner.runner import Runner
from tasky.stores.sqlite import SQLiteStore
from tasky.worker import Worker
from tests.metrics.helpers import local_scrape, value
from tests.support import wait_for

pytestmark = pytest.mark.timeout(60)


class Meter(Worker):
    """A worker no other test uses: its series are this file's alone."""

    name = "meter"
    max_num_tasks = 3
    release = threading.Event()

    class Config(ma.Schema):
        mode = ma.fields.String(load_default="ok")

    def perform(self, config, ctx):
        if config["mode"] == "fail":
            raise RuntimeError("failed on purpose")
        if config["mode"] == "block":
            while not Meter.release.is_set():
                ctx.sleep(0.01)
        return {"attempt": ctx.attempt}


@pytest.fixture
def runner(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/tasks.db")
    store = SQLiteStore(f"{tmp_path}/tasks.db")
    runner = Runner(settings, store, Registry(settings, [Meter]))
    Meter.release.clear()
    runner.start()
    yield runner
    Meter.release.set()
    runner.stop()


class Counts:
    """Differences between now and when it was made, on this worker's series."""

    def __init__(self):
        self.before = local_scrape()

    def delta(self, sample: str, **labels: str) -> float:
        labels = {"worker": "meter", **labels}
        return value(local_scrape(), sample, **labels) - value(self.before, sample, **labels)


def submit(runner, count=1, max_retries=0, **config):
    now = time.time()
    tasks = [
        NewTask(new_id(now), "meter", config, now, now, max_retries=max_retries)
        for _ in range(count)
    ]
    return [task.id for task, _ in runner.create_tasks(tasks)]


def finished(runner, ids):
    tasks = [runner.store.get_task(task_id) for task_id in ids]
    return all(task.status.is_terminal for task in tasks) and tasks


def test_outcomes_durations_and_lateness(runner):
    counts = Counts()
    ok = submit(runner, 3)
    failed = submit(runner, 1, max_retries=1, mode="fail")
    wait_for(lambda: finished(runner, ok + failed))
    wait_for(lambda: counts.delta("tasky_tasks_finished_total") == 4)
    assert counts.delta("tasky_tasks_submitted_total") == 4
    assert counts.delta("tasky_tasks_finished_total", status="completed") == 3
    assert counts.delta("tasky_tasks_finished_total", status="failed") == 1
    assert counts.delta("tasky_task_retries_total") == 1
    assert counts.delta("tasky_attempt_duration_seconds_count") == 5  # one retry
    assert counts.delta("tasky_start_lateness_seconds_count") == 5
    assert counts.delta("tasky_start_lateness_seconds_bucket", le="+Inf") == 5
    assert 0 <= counts.delta("tasky_attempt_duration_seconds_sum") < 5


def test_slots_and_busy_slots(runner):
    counts = Counts()
    assert value(local_scrape(), "tasky_runner_slots", worker="meter") == 3
    ids = submit(runner, 2, mode="block")
    wait_for(lambda: value(local_scrape(), "tasky_runner_slots_busy", worker="meter") == 2)
    Meter.release.set()
    wait_for(lambda: finished(runner, ids))
    wait_for(lambda: value(local_scrape(), "tasky_runner_slots_busy", worker="meter") == 0)
    wait_for(lambda: counts.delta("tasky_tasks_finished_total", status="completed") == 2)


def test_a_task_of_a_runner_gone_is_counted_as_recovered(runner):
    counts = Counts()
    now = time.time()
    # Another host's runner holds a task and vanished: its lease has expired.
    ((orphan, _),) = runner.store.create_tasks([NewTask(new_id(now), "meter", {}, now + 600, now)])
    held = runner.store.claim("meter", "elsewhere:1:gone", 1, now + 601, now, now - 1)
    assert [task.id for task in held] == [orphan.id]
    wait_for(lambda: counts.delta("tasky_task_recoveries_total") == 1, timeout=15)
    wait_for(lambda: counts.delta("tasky_tasks_finished_total", status="failed") == 1)
    assert runner.store.get_task(orphan.id).error == "interrupted"
    assert counts.delta("tasky_task_retries_total") == 0


def test_ticks_misfires_and_overlap_skips(runner):
    counts = Counts()
    now = time.time()
    on_time = schedule(now, interval=3600, next_run_at=now)
    late = schedule(now, interval=3600, next_run_at=now - 30, misfire="skip")
    busy = schedule(now, interval=0.2, next_run_at=now, config={"mode": "block"})
    for s in (on_time, late, busy):
        runner.store.create_schedule(s)
    runner.wake()
    wait_for(lambda: counts.delta("tasky_schedule_overlap_skips_total") >= 1)
    Meter.release.set()
    assert counts.delta("tasky_schedule_misfires_total", policy="skip") == 1
    assert counts.delta("tasky_schedule_misfires_total", policy="run_once") == 0
    assert runner.store.get_schedule(late.id).runs == 0
    assert runner.store.get_schedule(on_time.id).runs == 1
    assert counts.delta("tasky_tasks_submitted_total") >= 2  # on time, and the busy one
    assert counts.delta("tasky_schedule_ticks_total") >= 4  # on time, late, busy twice


def schedule(now, interval, next_run_at, misfire="run_once", config=None) -> Schedule:
    return Schedule(
        id=new_id(now),
        worker="meter",
        config=config or {},
        cron=None,
        interval=interval,
        timezone="UTC",
        status=ScheduleState.ACTIVE,
        next_run_at=next_run_at,
        created_at=now,
        misfire=misfire,
    )
