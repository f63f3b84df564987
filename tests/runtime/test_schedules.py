"""Schedules fired by real runners on one SQLite file."""

from __future__ import annotations

import itertools
import time

import pytest

from tasky.models import ScheduleState, TaskFilter
from tests.runtime.conftest import Probe
from tests.support import wait_for

pytestmark = pytest.mark.timeout(60)


def runs(service, schedule_id):
    return service.list_tasks(TaskFilter(schedule_id=schedule_id), limit=1000).tasks


def test_interval_schedule_fires_on_its_grid(service):
    start_at = time.time() + 0.3
    schedule = service.submit("probe", {"interval": 0.2, "start_at": start_at}).schedule
    assert schedule.next_run_at == pytest.approx(start_at)
    tasks = wait_for(lambda: len(runs(service, schedule.id)) >= 4 and runs(service, schedule.id))
    ticks = sorted(t.execute_at for t in tasks)
    for k, tick in enumerate(ticks):
        assert tick == pytest.approx(start_at + 0.2 * k, abs=1e-6)
    stored = service.get_schedule(schedule.id)
    assert stored.runs >= 4 and stored.last_task_id in {t.id for t in tasks}
    for task in tasks:
        assert task.schedule_id == schedule.id


def test_overlap_skip_never_starts_a_run_while_the_last_runs(service):
    schedule = service.submit("probe", {"interval": 0.1, "config": {"mode": "block"}}).schedule
    wait_for(lambda: len(Probe.started) == 1)
    first_ticks = service.get_schedule(schedule.id).next_run_at
    wait_for(lambda: service.get_schedule(schedule.id).next_run_at >= first_ticks + 0.5)
    assert len(runs(service, schedule.id)) == 1
    Probe.release.set()
    wait_for(lambda: len(runs(service, schedule.id)) >= 2)


def test_overlap_allow_starts_runs_side_by_side(service):
    schedule = service.submit(
        "probe", {"interval": 0.1, "overlap": "allow", "config": {"mode": "block"}}
    ).schedule
    wait_for(lambda: len(Probe.started) == 2)
    assert len(runs(service, schedule.id)) >= 2


@pytest.mark.parametrize("misfire, catch_up_runs", [("run_once", 1), ("skip", 0)])
def test_misfire_after_downtime(make_runner, misfire, catch_up_runs):
    offline = make_runner(start=False)
    start_at = time.time()
    schedule = offline.submit(
        "probe", {"interval": 0.2, "misfire": misfire, "start_at": start_at}
    ).schedule
    wait_for(lambda: time.time() > start_at + 1.5)
    restarted_at = time.time()
    service = make_runner()

    def on_grid(task):
        k = (task.execute_at - start_at) / 0.2
        return abs(k - round(k)) < 1e-6

    tasks = wait_for(
        lambda: (
            (ts := runs(service, schedule.id))
            and any(on_grid(t) and t.execute_at > restarted_at for t in ts)
            and ts
        )
    )
    assert len([t for t in tasks if not on_grid(t)]) == catch_up_runs
    assert not [t for t in tasks if on_grid(t) and t.execute_at < restarted_at], (
        "a tick missed during the downtime was made up"
    )


def test_paused_schedule_fires_nothing_and_stays_paused_across_restarts(make_runner):
    service = make_runner()
    schedule = service.submit("probe", {"interval": 0.1}).schedule
    wait_for(lambda: runs(service, schedule.id))
    service.schedule_action(schedule.id, "pause")
    service.engine.stop()
    count = len(runs(service, schedule.id))
    again = make_runner()
    paused_at = time.time()
    wait_for(lambda: time.time() > paused_at + 0.5)
    assert len(runs(again, schedule.id)) == count
    assert again.get_schedule(schedule.id).status is ScheduleState.PAUSED
    resumed = again.schedule_action(schedule.id, "resume").schedule
    assert resumed.next_run_at >= paused_at
    wait_for(lambda: len(runs(again, schedule.id)) > count)


def test_end_at_stops_firing(service):
    now = time.time()
    schedule = service.submit(
        "probe", {"interval": 0.1, "start_at": now + 1, "end_at": now + 1.25}
    ).schedule
    ended = wait_for(lambda: (s := service.get_schedule(schedule.id)).next_run_at is None and s)
    assert ended.runs == 3


def test_several_runners_fire_each_tick_exactly_once(make_runner):
    services = [make_runner() for _ in range(4)]
    schedule = services[0].submit("probe", {"interval": 0.1, "overlap": "allow"}).schedule
    wait_for(lambda: services[1].get_schedule(schedule.id).runs >= 15)
    services[2].schedule_action(schedule.id, "pause")
    ticks = sorted(t.execute_at for t in runs(services[3], schedule.id))
    assert len(ticks) == len(set(ticks)) == services[3].get_schedule(schedule.id).runs
    for earlier, later in itertools.pairwise(ticks):
        assert later - earlier == pytest.approx(0.1, abs=1e-6), "a tick was lost or doubled"
