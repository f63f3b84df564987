"""The store contract for schedules: every implementation must pass this same suite."""

from __future__ import annotations

import threading

import pytest

from tasky.errors import ScheduleNotFound, StateConflict
from tasky.ids import new_id
from tasky.models import NewTask, Outcome, Schedule, ScheduleState, TaskFilter, TaskState

T0 = 1_800_000_000.0


def schedule(created_at=T0, **kw) -> Schedule:
    fields = {
        "id": new_id(created_at),
        "worker": "echo",
        "config": {"message": "tick"},
        "cron": None,
        "interval": 10.0,
        "timezone": "UTC",
        "status": ScheduleState.ACTIVE,
        "next_run_at": T0 + 10,
        "created_at": created_at,
    }
    return Schedule(**{**fields, **kw})


def run_of(s: Schedule, execute_at: float) -> NewTask:
    return NewTask(
        id=new_id(execute_at),
        worker=s.worker,
        config=s.config,
        execute_at=execute_at,
        created_at=execute_at - 0.1,
        schedule_id=s.id,
        timeout=s.timeout,
        max_retries=s.max_retries,
    )


def test_create_and_read_back(store):
    s = store.create_schedule(
        schedule(
            cron="*/5 * * * *",
            interval=None,
            timezone="Europe/Paris",
            overlap="allow",
            misfire="skip",
            start_at=T0,
            end_at=T0 + 3600,
            timeout=2.0,
            max_retries=1,
        )
    )
    assert store.get_schedule(s.id) == s
    assert (s.cron, s.interval, s.timezone, s.runs, s.last_run_at) == (
        "*/5 * * * *",
        None,
        "Europe/Paris",
        0,
        None,
    )
    assert store.get_schedule(new_id(T0)) is None


def test_list_newest_first_with_cursor(store):
    ids = [store.create_schedule(schedule(created_at=T0 + i)).id for i in range(5)]
    first = store.list_schedules(2, None)
    rest = store.list_schedules(10, first.next_cursor)
    assert [s.id for s in first.schedules + rest.schedules] == list(reversed(ids))
    assert rest.next_cursor is None


def test_due_schedules_and_next_due(store):
    early = store.create_schedule(schedule(next_run_at=T0 + 5))
    store.create_schedule(schedule(next_run_at=T0 + 50, created_at=T0 + 1))
    paused = store.create_schedule(
        schedule(next_run_at=T0 + 1, created_at=T0 + 2, status=ScheduleState.PAUSED)
    )
    assert store.next_schedule_due_at() == T0 + 5
    assert [s.id for s in store.due_schedules(T0 + 10, 10)] == [early.id]
    assert paused.id not in [s.id for s in store.due_schedules(T0 + 100, 10)]


def test_fire_moves_next_run_and_creates_the_task(store):
    s = store.create_schedule(schedule())
    firing = store.fire_schedule(s.id, T0 + 10, T0 + 20, run_of(s, T0 + 10), T0 + 9.9, True)
    assert firing.won and firing.task.schedule_id == s.id
    assert firing.task.execute_at == T0 + 10 and firing.task.status is TaskState.SCHEDULED
    after = store.get_schedule(s.id)
    assert (after.next_run_at, after.runs, after.last_task_id, after.last_run_at) == (
        T0 + 20,
        1,
        firing.task.id,
        T0 + 9.9,
    )


def test_each_tick_fires_once_among_concurrent_callers(store):
    s = store.create_schedule(schedule())
    results = []
    barrier = threading.Barrier(4)

    def fire():
        barrier.wait()
        results.append(store.fire_schedule(s.id, T0 + 10, T0 + 20, run_of(s, T0 + 10), T0, True))

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r.won for r in results) == 1
    assert store.get_schedule(s.id).runs == 1
    assert len(store.list_tasks(TaskFilter(schedule_id=s.id), 10, None).tasks) == 1


def test_stale_tick_or_paused_schedule_does_not_fire(store):
    s = store.create_schedule(schedule())
    assert not store.fire_schedule(s.id, T0 + 9, T0 + 20, run_of(s, T0 + 9), T0, True).won
    store.update_schedule(s.id, {"status": ScheduleState.PAUSED})
    assert not store.fire_schedule(s.id, T0 + 10, T0 + 20, run_of(s, T0 + 10), T0, True).won
    assert store.get_schedule(s.id).runs == 0


def test_overlap_skip_consumes_the_tick_without_a_task(store):
    s = store.create_schedule(schedule())
    first = store.fire_schedule(s.id, T0 + 10, T0 + 20, run_of(s, T0 + 10), T0 + 10, True).task
    skipped = store.fire_schedule(s.id, T0 + 20, T0 + 30, run_of(s, T0 + 20), T0 + 20, True)
    assert skipped.won and skipped.task is None
    allowed = store.fire_schedule(s.id, T0 + 30, T0 + 40, run_of(s, T0 + 30), T0 + 30, False)
    assert allowed.task is not None
    (claimed,) = store.claim("echo", "a", 1, T0 + 10, T0 + 10, T0 + 100)
    assert claimed.id == first.id
    store.finish([Outcome(first.id, "a", 1, TaskState.COMPLETED, T0 + 11)])
    s2 = store.create_schedule(schedule(created_at=T0 + 1))
    done = store.fire_schedule(s2.id, T0 + 10, T0 + 20, run_of(s2, T0 + 10), T0, True).task
    store.cancel(done.id, T0)
    assert store.fire_schedule(s2.id, T0 + 20, T0 + 30, run_of(s2, T0 + 20), T0, True).task


def test_fire_without_a_task_only_moves_on(store):
    s = store.create_schedule(schedule())
    firing = store.fire_schedule(s.id, T0 + 10, None, None, T0 + 100, True)
    assert firing.won and firing.task is None
    after = store.get_schedule(s.id)
    assert after.next_run_at is None and after.runs == 0
    assert store.next_schedule_due_at() is None


def test_run_now_keeps_next_run(store):
    s = store.create_schedule(schedule())
    task = store.run_schedule_now(s.id, run_of(s, T0), T0)
    after = store.get_schedule(s.id)
    assert (after.runs, after.last_task_id, after.next_run_at) == (1, task.id, T0 + 10)
    with pytest.raises(ScheduleNotFound):
        store.run_schedule_now(new_id(T0), run_of(s, T0), T0)


def test_update_and_expected_status(store):
    s = store.create_schedule(schedule())
    changed = store.update_schedule(
        s.id,
        {"config": {"message": "new"}, "interval": 5.0, "next_run_at": T0 + 5, "overlap": "allow"},
    )
    assert (changed.config, changed.interval, changed.next_run_at, changed.overlap) == (
        {"message": "new"},
        5.0,
        T0 + 5,
        "allow",
    )
    paused = store.update_schedule(
        s.id, {"status": ScheduleState.PAUSED}, expect_status=ScheduleState.ACTIVE
    )
    assert paused.status is ScheduleState.PAUSED
    with pytest.raises(StateConflict):
        store.update_schedule(
            s.id, {"status": ScheduleState.PAUSED}, expect_status=ScheduleState.ACTIVE
        )
    with pytest.raises(ScheduleNotFound):
        store.update_schedule(new_id(T0), {"overlap": "skip"})


def test_delete_cancels_waiting_tasks_and_keeps_the_rest(store):
    s = store.create_schedule(schedule())
    done = store.run_schedule_now(s.id, run_of(s, T0), T0)
    (_claimed,) = store.claim("echo", "a", 1, T0, T0, T0 + 100)
    store.finish([Outcome(done.id, "a", 1, TaskState.COMPLETED, T0 + 1)])
    waiting = store.run_schedule_now(s.id, run_of(s, T0 + 60), T0)
    canceled = store.delete_schedule(s.id, T0 + 2)
    assert [t.id for t in canceled] == [waiting.id]
    assert store.get_task(waiting.id).status is TaskState.CANCELED
    assert store.get_task(done.id).status is TaskState.COMPLETED
    assert store.get_schedule(s.id) is None
    with pytest.raises(ScheduleNotFound):
        store.delete_schedule(s.id, T0)
