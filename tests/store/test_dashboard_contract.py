"""The store statements behind the dashboard, on SQLite and PostgreSQL: the live feed, the
counts, the finished tasks of a range, and bulk actions bounded by a task id."""

from __future__ import annotations

import json

from tasky.ids import new_id
from tasky.models import NewTask, Outcome, TaskFilter, TaskState

NOW = 1_900_000_000.0
OWNER = "runner-1"


def add(store, worker="sleeper", at=NOW, due=None, schedule_id=None):
    task = NewTask(
        id=new_id(at),
        worker=worker,
        config={},
        execute_at=at if due is None else due,
        created_at=at,
        schedule_id=schedule_id,
    )
    return store.create_tasks([task])[0][0]


def run(store, worker, now):
    (task,) = store.claim(worker, OWNER, 1, now, now, now + 30)
    return task


def finish(store, task, now, status=TaskState.COMPLETED):
    (done,) = store.finish(
        [Outcome(task.id, OWNER, task.attempts, status, now, output_json=json.dumps(None))]
    )
    return done


def test_count_matching_by_status_with_the_newest_id(store):
    ids = [add(store, at=NOW + i).id for i in range(3)]
    add(store, worker="echo", at=NOW + 5)
    store.pause(ids[0])
    by_status, newest = store.count_matching(TaskFilter(worker="sleeper"), None)
    assert by_status == {"paused": 1, "queued": 2} and newest == ids[2]
    by_status, newest = store.count_matching(TaskFilter(worker="sleeper"), ids[1])
    assert by_status == {"paused": 1, "queued": 1} and newest == ids[1]
    assert store.count_matching(TaskFilter(status=TaskState.QUEUED), None)[0] == {"queued": 3}
    assert store.count_matching(TaskFilter(worker="nobody"), None) == ({}, None)


def test_bulk_cancel_acts_on_the_filter_up_to_the_bound_only(store):
    queued = [add(store, at=NOW + i * 0.01) for i in range(7)]
    running = run(store, "sleeper", NOW + 1)  # the oldest queued one starts
    bound = queued[-1].id
    later = add(store, at=NOW + 2)
    other = add(store, worker="echo", at=NOW + 0.5)
    filters = TaskFilter(worker="sleeper")
    done, before = [], None
    while True:  # pages of 3
        page = store.act_on_matching(filters, "cancel", bound, before, 3, NOW + 3)
        done += page
        if len(page) < 3:
            break
        before = min(t.id for t in page)
    states = {t.id: t.status for t in done}
    assert len(states) == 7
    assert states.pop(running.id) is TaskState.CANCELING
    assert set(states.values()) == {TaskState.CANCELED}
    assert all(t.finished_at == NOW + 3 for t in done if t.status is TaskState.CANCELED)
    assert store.get_task(later.id).status is TaskState.QUEUED
    assert store.get_task(other.id).status is TaskState.QUEUED


def test_bulk_actions_change_only_the_states_they_fit(store):
    waiting = add(store, at=NOW, due=NOW + 600)  # scheduled
    queued = add(store, at=NOW + 1)
    paused = add(store, at=NOW + 2)
    store.pause(paused.id)
    add(store, worker="echo", at=NOW + 3)
    finished = finish(store, run(store, "echo", NOW + 4), NOW + 5)
    everything = TaskFilter()

    def act(action):
        page = store.act_on_matching(everything, action, finished.id, None, 100, NOW + 6)
        return {t.id: t.status for t in page}

    assert act("pause") == {waiting.id: TaskState.PAUSED, queued.id: TaskState.PAUSED}
    assert act("resume") == {
        waiting.id: TaskState.SCHEDULED,
        queued.id: TaskState.QUEUED,
        paused.id: TaskState.QUEUED,
    }
    assert act("run") == {waiting.id: TaskState.QUEUED}
    assert store.get_task(waiting.id).execute_at == NOW + 6
    assert act("delete") == {finished.id: TaskState.COMPLETED}
    assert store.get_task(finished.id) is None
    assert act("cancel") == dict.fromkeys([waiting.id, queued.id, paused.id], TaskState.CANCELED)


def test_live_tasks_are_the_running_the_latest_finished_and_the_newest(store):
    add(store, "echo", NOW)
    old = finish(store, run(store, "echo", NOW), NOW + 1)
    add(store, "echo", NOW + 2)
    recent = finish(store, run(store, "echo", NOW + 50), NOW + 51)
    add(store, "sleeper", NOW + 3)
    running = run(store, "sleeper", NOW + 60)
    newest = add(store, "echo", NOW + 70, due=NOW + 999)
    rows = store.live_tasks(NOW + 40, 10)
    assert {t.id for t in rows} == {recent.id, running.id, newest.id}
    assert old.id not in {t.id for t in rows}
    assert all(t.config == {} for t in rows)  # list items: no config, no output
    assert {t.id for t in store.live_tasks(NOW + 40, 0)} == {running.id, newest.id}


def test_task_counts_by_worker_and_status(store):
    add(store, "echo", NOW)
    add(store, "echo", NOW + 1)
    add(store, "sleeper", NOW + 2, due=NOW + 100)
    finish(store, run(store, "echo", NOW + 3), NOW + 4, TaskState.FAILED)
    assert store.task_counts() == {
        ("echo", "failed"): 1,
        ("echo", "queued"): 1,
        ("sleeper", "scheduled"): 1,
    }


def test_finished_since_reads_outcomes_and_lateness(store):
    add(store, "echo", NOW)
    first = finish(store, run(store, "echo", NOW + 2), NOW + 3)
    add(store, "echo", NOW + 10)
    second = finish(store, run(store, "echo", NOW + 10.5), NOW + 11, TaskState.FAILED)
    rows = store.finished_since(NOW + 5, 100)
    assert rows == [("failed", NOW + 11, 0.5)]
    rows = store.finished_since(NOW, 100)
    assert [r[0] for r in rows] == ["failed", "completed"]
    assert rows[1][2] == first.lateness == 2.0
    assert second.status is TaskState.FAILED
    assert store.finished_since(NOW, 1) == [("failed", NOW + 11, 0.5)]
