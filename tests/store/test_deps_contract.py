"""The store contract for dependencies: blocked tasks released or skipped, on both stores."""

from __future__ import annotations

import threading

import pytest

from tasky.errors import InvalidInput
from tasky.ids import new_id, new_ids
from tasky.models import NewTask, Outcome, RunIf, TaskFilter, TaskState
from tasky.stores.base import Store

T0 = 1_800_000_000.0
LEASE = 30.0


def new(worker="p", depends_on=None, run_if=None, config=None, **kw) -> NewTask:
    return NewTask(
        id=new_id(T0),
        worker=worker,
        config=config if config is not None else {"message": "hi"},
        execute_at=kw.pop("execute_at", T0),
        created_at=T0,
        depends_on=depends_on,
        run_if=run_if,
        **kw,
    )


def add(store: Store, *tasks: NewTask):
    return [task for task, _ in store.create_tasks(list(tasks))]


def child_of(store, *parents, run_if=None, **kw):
    (child,) = add(store, new("c", [p.id for p in parents], run_if, **kw))
    return child


def run(store, *tasks, status=TaskState.COMPLETED, owner="a", at=T0 + 1, **kw):
    """Claim the tasks (each is the only due one of its worker) and end them with ``status``."""
    claimed = []
    for task in tasks:
        claimed += store.claim(task.worker, owner, 1000, at, at, at + LEASE)
    ended = store.finish([Outcome(t.id, owner, t.attempts, status, at, **kw) for t in claimed])
    assert {t.id for t in claimed} >= {t.id for t in tasks}
    return ended


def status(store, task):
    return store.get_task(task.id).status


def test_a_child_is_blocked_until_its_parent_completes(store):
    (parent,) = add(store, new())
    child = child_of(store, parent)
    assert child.status is TaskState.BLOCKED
    assert store.get_task(child.id).depends_on == [parent.id]
    assert store.claim("c", "a", 10, T0 + 100, T0, T0 + LEASE) == []
    run(store, parent)
    released = store.get_task(child.id)
    assert released.status is TaskState.QUEUED
    assert released.execute_at == T0 + 1  # due from its release, not from its submit
    assert store.claim("c", "a", 10, T0 + 1, T0 + 1, T0 + LEASE)[0].id == child.id


def test_a_child_due_later_is_released_to_scheduled(store):
    (parent,) = add(store, new())
    child = child_of(store, parent, execute_at=T0 + 60)
    run(store, parent)
    assert status(store, child) is TaskState.SCHEDULED


def test_a_child_waits_for_every_parent(store):
    a, b = add(store, new("p"), new("q"))
    child = child_of(store, a, b)
    run(store, a)
    assert status(store, child) is TaskState.BLOCKED
    run(store, b)
    assert status(store, child) is TaskState.QUEUED


def test_all_success_skips_at_once_when_a_parent_fails(store):
    a, b = add(store, new("p"), new("q"))
    child = child_of(store, a, b)
    run(store, a, status=TaskState.FAILED, error="boom")
    skipped = store.get_task(child.id)
    assert skipped.status is TaskState.SKIPPED  # b has not ended: no need to wait for it
    assert skipped.skip_reason == f"upstream failed: {a.id}"
    assert skipped.finished_at == T0 + 1


def test_a_skip_cascades_to_grandchildren(store):
    (parent,) = add(store, new())
    child = child_of(store, parent)
    grandchild = child_of(store, child, run_if=RunIf.ALL_SUCCESS)
    cleanup = child_of(store, child, run_if=RunIf.ALL_DONE)
    run(store, parent, status=TaskState.FAILED)
    assert store.get_task(grandchild.id).skip_reason == f"upstream skipped: {child.id}"
    assert status(store, cleanup) is TaskState.QUEUED


def test_all_done_runs_after_a_failure(store):
    a, b = add(store, new("p"), new("q"))
    cleanup = child_of(store, a, b, run_if=RunIf.ALL_DONE)
    run(store, a, status=TaskState.FAILED)
    assert status(store, cleanup) is TaskState.BLOCKED
    run(store, b)
    assert status(store, cleanup) is TaskState.QUEUED


def test_any_failed_runs_on_a_failure_and_is_skipped_without_one(store):
    a, b = add(store, new("p"), new("q"))
    alert = child_of(store, a, b, run_if=RunIf.ANY_FAILED)
    quiet = child_of(store, a, run_if=RunIf.ANY_FAILED)
    run(store, a)
    assert store.get_task(quiet.id).skip_reason == "no upstream failed"
    run(store, b, status=TaskState.FAILED)
    assert status(store, alert) is TaskState.QUEUED


def test_none_failed_accepts_skipped_parents_but_not_failed_ones(store):
    a, b = add(store, new("p"), new("q"))
    skipped = child_of(store, a)
    tolerant = child_of(store, skipped, b, run_if=RunIf.NONE_FAILED)
    strict = child_of(store, b, run_if=RunIf.NONE_FAILED)
    run(store, a, status=TaskState.FAILED)
    assert status(store, skipped) is TaskState.SKIPPED
    run(store, b)
    assert status(store, tolerant) is TaskState.QUEUED
    assert status(store, strict) is TaskState.QUEUED
    (c,) = add(store, new("r"))
    failing = child_of(store, c, run_if=RunIf.NONE_FAILED)
    run(store, c, status=TaskState.FAILED)
    assert store.get_task(failing.id).skip_reason == f"upstream failed: {c.id}"


def test_a_parent_ended_before_the_submit_is_evaluated_at_once(store):
    ok, bad = add(store, new("p"), new("q"))
    run(store, ok)
    run(store, bad, status=TaskState.FAILED)
    assert status(store, child_of(store, ok)) is TaskState.QUEUED
    assert status(store, child_of(store, bad)) is TaskState.SKIPPED
    assert status(store, child_of(store, bad, run_if=RunIf.ANY_FAILED)) is TaskState.QUEUED


def test_an_unknown_parent_is_invalid_and_stores_nothing(store):
    (parent,) = add(store, new())
    with pytest.raises(InvalidInput) as caught:
        store.create_tasks([new("c", [parent.id]), new("c", [new_id(T0)])])
    assert "depends_on" in caught.value.errors
    assert len(store.list_tasks(TaskFilter(), 10, None).tasks) == 1


def test_a_parents_retries_keep_its_children_blocked(store):
    (parent,) = add(store, new(max_retries=1))
    child = child_of(store, parent)
    run(store, parent, status=TaskState.SCHEDULED, retry_at=T0 + 2, error="once")
    assert status(store, child) is TaskState.BLOCKED
    run(store, parent, at=T0 + 3)
    assert status(store, child) is TaskState.QUEUED


def test_cancel_of_a_waiting_parent_skips_its_children(store):
    (parent,) = add(store, new())
    child = child_of(store, parent)
    cleanup = child_of(store, parent, run_if=RunIf.ALL_DONE)
    store.cancel(parent.id, T0 + 5)
    assert store.get_task(child.id).skip_reason == f"upstream canceled: {parent.id}"
    assert status(store, cleanup) is TaskState.QUEUED


def test_cancel_of_a_blocked_task_settles_its_own_children(store):
    (parent,) = add(store, new())
    child = child_of(store, parent)
    grandchild = child_of(store, child)
    assert store.cancel(child.id, T0 + 5).status is TaskState.CANCELED
    assert store.get_task(grandchild.id).skip_reason == f"upstream canceled: {child.id}"
    run(store, parent)
    assert status(store, child) is TaskState.CANCELED


def test_a_running_parent_canceled_ends_canceled_and_skips(store):
    (parent,) = add(store, new())
    child = child_of(store, parent)
    (claimed,) = store.claim("p", "a", 1, T0, T0, T0 + LEASE)
    assert store.cancel(parent.id, T0).status is TaskState.CANCELING
    assert status(store, child) is TaskState.BLOCKED
    store.finish([Outcome(parent.id, "a", claimed.attempts, TaskState.COMPLETED, T0 + 1)])
    assert status(store, child) is TaskState.SKIPPED


def test_lease_expiry_settles_children_once_retries_are_spent(store):
    (retried,) = add(store, new("p", max_retries=1))
    (failed,) = add(store, new("q"))
    waits, skipped = child_of(store, retried), child_of(store, failed)
    store.claim("p", "a", 1, T0, T0, T0 + LEASE)
    store.claim("q", "a", 1, T0, T0, T0 + LEASE)
    store.recover(T0 + LEASE + 1)
    assert status(store, waits) is TaskState.BLOCKED
    assert store.get_task(skipped.id).skip_reason == f"upstream failed: {failed.id}"


def test_a_deleted_schedules_canceled_runs_skip_their_children(store):
    from tasky.models import Schedule, ScheduleState

    schedule = store.create_schedule(
        Schedule(
            id=new_id(T0),
            worker="p",
            config={},
            cron=None,
            interval=60.0,
            timezone="UTC",
            status=ScheduleState.ACTIVE,
            next_run_at=T0 + 60,
            created_at=T0,
        )
    )
    (run_of,) = add(store, new(schedule_id=schedule.id, execute_at=T0 + 60))
    child = child_of(store, run_of)
    store.delete_schedule(schedule.id, T0 + 1)
    assert store.get_task(child.id).skip_reason == f"upstream canceled: {run_of.id}"


def test_prune_keeps_a_parent_while_a_child_is_unfinished(store):
    a, b = add(store, new("p"), new("q"))
    child = child_of(store, a, b)
    run(store, a)
    assert store.prune(T0 + 100) == 0
    run(store, b)
    assert status(store, child) is TaskState.QUEUED
    assert store.prune(T0 + 100) == 0  # the child has yet to run
    store.cancel(child.id, T0 + 2)
    assert store.prune(T0 + 100) == 3


def test_references_resolve_on_release(store):
    (parent,) = add(store, new())
    config = {
        "rows": {"$from": parent.id, "path": "/output/rows"},
        "first": [{"$from": parent.id, "path": "/output/rows/0"}],
        "state": {"$from": parent.id, "path": "/status"},
        "missing": {"$from": parent.id, "path": "/output/none", "default": 7},
    }
    child = child_of(store, parent, config=config)
    run(store, parent, output_json='{"rows": [1, 2]}')
    released = store.get_task(child.id)
    assert released.status is TaskState.QUEUED
    assert released.config == {"rows": [1, 2], "first": [1], "state": "completed", "missing": 7}
    assert released.config_template == config


def test_a_reference_to_no_value_fails_the_child_naming_the_path(store):
    (parent,) = add(store, new())
    child = child_of(store, parent, config={"x": {"$from": parent.id, "path": "/output/nope"}})
    grandchild = child_of(store, child)
    run(store, parent, output_json="{}")
    failed = store.get_task(child.id)
    assert failed.status is TaskState.FAILED
    assert failed.error == f"$from {parent.id!r}: no value at /output/nope"
    assert status(store, grandchild) is TaskState.SKIPPED


def test_task_inputs_are_the_parents_results(store):
    a, b = add(store, new("p"), new("q"))
    child = child_of(store, a, b, run_if=RunIf.ALL_DONE)
    run(store, a, output_json='{"n": 1}')
    run(store, b, status=TaskState.FAILED, error="boom")
    assert store.task_inputs(child.id) == {
        a.id: {"status": "completed", "output": {"n": 1}, "error": None},
        b.id: {"status": "failed", "output": None, "error": "boom"},
    }


def test_fan_out_to_a_thousand_children_in_one_finish(store):
    (parent,) = add(store, new())
    ids = new_ids(T0, 1000)
    store.create_tasks(
        [
            NewTask(
                id=i, worker="c", config={}, execute_at=T0, created_at=T0, depends_on=[parent.id]
            )
            for i in ids
        ]
    )
    run(store, parent)
    assert store.claim("c", "a", 2000, T0 + 1, T0 + 1, T0 + LEASE).__len__() == 1000
    assert store.sweep_blocked(T0 + 2) == []


def test_concurrent_parents_release_their_child_exactly_once(store):
    parents = add(store, *[new("p") for _ in range(50)])
    child = child_of(store, *parents)
    claimed = store.claim("p", "a", 100, T0, T0, T0 + LEASE)
    barrier = threading.Barrier(10)

    def finish(part):
        barrier.wait()
        for task in part:
            store.finish([Outcome(task.id, "a", task.attempts, TaskState.COMPLETED, T0 + 1)])

    threads = [threading.Thread(target=finish, args=(claimed[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert status(store, child) is TaskState.QUEUED
    assert store.sweep_blocked(T0 + 2) == []  # nothing left behind for the sweep


def test_the_sweep_settles_a_child_whose_parents_all_ended(store):
    (parent,) = add(store, new())
    child = child_of(store, parent)
    with store._write() as db:  # the parent ends outside the contract: nothing settled
        store._execute(db, "UPDATE tasks SET status = 'completed' WHERE id = %s", (parent.id,))
    assert status(store, child) is TaskState.BLOCKED
    assert store.sweep_blocked(T0 + 2) == [child.id]
    assert status(store, child) is TaskState.QUEUED
