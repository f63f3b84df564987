"""The store contract: every implementation must pass this same suite."""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import replace

import pytest

from tasky.errors import InvalidInput, StateConflict, TaskNotFound
from tasky.ids import new_id
from tasky.models import LeaseReport, NewTask, Outcome, RunnerInfo, TaskFilter, TaskState

T0 = 1_800_000_000.0
LEASE = 30.0


def new(worker="echo", execute_at=T0, created_at=T0, **kw) -> NewTask:
    return NewTask(
        id=new_id(created_at),
        worker=worker,
        config={"message": "hi"},
        execute_at=execute_at,
        created_at=created_at,
        **kw,
    )


def add(store, *tasks):
    return [task for task, _ in store.create_tasks(list(tasks))]


def claim_one(store, worker="echo", owner="a", now=T0):
    claimed = store.claim(worker, owner, 1, now, now, now + LEASE)
    assert len(claimed) == 1
    return claimed[0]


def outcome(task, status, at=T0 + 1, owner="a", **kw):
    return Outcome(task.id, owner, task.attempts, status, at, **kw)


# -- creating and reading ----------------------------------------------------------------------


def test_created_task_reads_back_whole(store):
    (task,) = add(store, new(timeout=5.0, max_retries=2, retry_backoff=0.5))
    got = store.get_task(task.id)
    assert got == task
    assert got.status is TaskState.QUEUED
    assert got.config == {"message": "hi"}
    assert (got.timeout, got.max_retries, got.retry_backoff, got.attempts) == (5.0, 2, 0.5, 0)


def test_future_task_is_scheduled(store):
    (task,) = add(store, new(execute_at=T0 + 60))
    assert task.status is TaskState.SCHEDULED


def test_missing_task_is_none(store):
    assert store.get_task(new_id(T0)) is None


def test_idempotency_key_returns_first_task(store):
    ((first, created),) = store.create_tasks([new(idempotency_key="k1")])
    ((again, created_again),) = store.create_tasks([new(idempotency_key="k1")])
    assert created and not created_again
    assert again.id == first.id
    assert len(store.list_tasks(TaskFilter(), 10, None).tasks) == 1


def test_batch_insert_is_all_in_one(store):
    tasks = add(store, *[new(created_at=T0 + i / 1000) for i in range(50)])
    assert len({t.id for t in tasks}) == 50
    assert len(store.list_tasks(TaskFilter(), 1000, None).tasks) == 50


def test_list_is_newest_first_and_pages_with_cursor(store):
    ids = [t.id for t in add(store, *[new(created_at=T0 + i) for i in range(7)])]
    seen, cursor = [], None
    while True:
        page = store.list_tasks(TaskFilter(), 3, cursor)
        seen += [t.id for t in page.tasks]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids))


def test_list_filters(store):
    _a, b = add(store, new(worker="echo"), new(worker="sleeper", execute_at=T0 + 60))
    store.create_tasks([new(schedule_id="s1")])
    assert [t.id for t in store.list_tasks(TaskFilter(worker="sleeper"), 10, None).tasks] == [b.id]
    scheduled = store.list_tasks(TaskFilter(status=TaskState.SCHEDULED), 10, None).tasks
    assert [t.id for t in scheduled] == [b.id]
    by_schedule = store.list_tasks(TaskFilter(schedule_id="s1"), 10, None).tasks
    assert [t.schedule_id for t in by_schedule] == ["s1"]


@pytest.mark.parametrize("cursor", ["garbage!", "", "YWJj", "x" * 60])
def test_bad_cursor_is_invalid_input(store, cursor):
    with pytest.raises(InvalidInput):
        store.list_tasks(TaskFilter(), 10, cursor)


# -- claiming ----------------------------------------------------------------------------------


def test_claim_takes_due_tasks_earliest_first_up_to_limit(store):
    late, early, future = add(
        store,
        new(execute_at=T0 - 1),
        new(execute_at=T0 - 5),
        new(execute_at=T0 + 10, created_at=T0 - 10),
    )
    claimed = store.claim("echo", "a", 5, T0, T0, T0 + LEASE)
    assert [t.id for t in claimed] == [early.id, late.id]
    for task in claimed:
        assert task.status is TaskState.RUNNING
        assert task.owner == "a" and task.attempts == 1 and task.lease_until == T0 + LEASE
        assert task.started_at == T0
    assert claimed[0].lateness == 5
    assert store.claim("echo", "a", 5, T0, T0, T0 + LEASE) == []
    assert store.get_task(future.id).status is TaskState.SCHEDULED


def test_claim_ahead_starts_at_execute_at(store):
    (_task,) = add(store, new(execute_at=T0 + 0.04, created_at=T0 - 1))
    (claimed,) = store.claim("echo", "a", 1, T0 + 0.05, T0, T0 + LEASE)
    assert claimed.started_at == pytest.approx(T0 + 0.04)
    assert claimed.lateness == 0


def test_claim_is_per_worker_and_respects_limit(store):
    add(store, *[new(worker="echo") for _ in range(3)], new(worker="sleeper"))
    assert len(store.claim("echo", "a", 2, T0, T0, T0 + LEASE)) == 2
    assert len(store.claim("echo", "a", 2, T0, T0, T0 + LEASE)) == 1
    assert len(store.claim("sleeper", "a", 2, T0, T0, T0 + LEASE)) == 1


def test_concurrent_claimers_take_each_task_exactly_once(store):
    add(store, *[new(created_at=T0 + i / 1000) for i in range(200)])
    taken: dict[str, list[str]] = {}
    barrier = threading.Barrier(4)

    def claimer(owner):
        barrier.wait()
        got = []
        while batch := store.claim("echo", owner, 7, T0, T0, T0 + LEASE):
            got += [t.id for t in batch]
        taken[owner] = got

    threads = [threading.Thread(target=claimer, args=(f"o{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    all_ids = [i for ids in taken.values() for i in ids]
    assert len(all_ids) == 200 == len(set(all_ids))


def test_next_due_at_and_mark_queued(store):
    assert store.next_due_at("echo") is None
    a, b = add(store, new(execute_at=T0 + 5, created_at=T0), new(execute_at=T0 + 9, created_at=T0))
    assert store.next_due_at("echo") == T0 + 5
    store.mark_queued("echo", T0 + 5, T0 + 6)
    assert store.get_task(a.id).status is TaskState.SCHEDULED, "due before the range"
    store.mark_queued("echo", T0, T0 + 6)
    assert store.get_task(a.id).status is TaskState.QUEUED
    assert store.get_task(b.id).status is TaskState.SCHEDULED
    assert store.next_due_at("sleeper") is None


# -- finishing -------------------------------------------------------------------------------


def test_finish_completes_with_output(store):
    add(store, new())
    task = claim_one(store)
    (done,) = store.finish([outcome(task, TaskState.COMPLETED, output_json='{"x": [1, 2]}')])
    assert done.status is TaskState.COMPLETED
    assert done.output == {"x": [1, 2]} and done.error is None
    assert done.finished_at == T0 + 1 and done.ran_for == 1
    assert done.owner is None and done.lease_until is None


def test_finish_is_fenced_by_owner_and_attempt(store):
    add(store, new())
    task = claim_one(store)
    assert store.finish([outcome(task, TaskState.COMPLETED, owner="b")]) == []
    stale = Outcome(task.id, "a", task.attempts + 1, TaskState.COMPLETED, T0 + 1)
    assert store.finish([stale]) == []
    assert store.get_task(task.id).status is TaskState.RUNNING


def test_finish_of_a_canceling_task_ends_canceled(store):
    add(store, new())
    task = claim_one(store)
    assert store.cancel(task.id, T0).status is TaskState.CANCELING
    (done,) = store.finish([outcome(task, TaskState.COMPLETED, output_json='{"ok": 1}')])
    assert done.status is TaskState.CANCELED
    assert done.finished_at == T0 + 1


def test_a_failure_with_retries_left_goes_back_to_scheduled_and_counts_attempts(store):
    add(store, new(max_retries=1))
    task = claim_one(store)
    (retry,) = store.finish([outcome(task, TaskState.FAILED, error="boom", retry_at=T0 + 3)])
    assert retry.status is TaskState.SCHEDULED
    assert retry.execute_at == T0 + 3 and retry.finished_at is None and retry.error == "boom"
    second = claim_one(store, now=T0 + 3)
    assert second.attempts == 2 and second.lateness == 0
    (failed,) = store.finish(
        [outcome(second, TaskState.FAILED, at=T0 + 5, error="boom", retry_at=T0 + 9)]
    )
    assert failed.status is TaskState.FAILED and failed.ran_for == 3, "no retry left"
    assert failed.finished_at == T0 + 5 and failed.execute_at == T0 + 3


def test_a_cancel_wins_over_a_retry(store):
    add(store, new(max_retries=1))
    task = claim_one(store)
    store.cancel(task.id, T0)
    (done,) = store.finish([outcome(task, TaskState.FAILED, error="boom", retry_at=T0 + 3)])
    assert (done.status, done.finished_at) == (TaskState.CANCELED, T0 + 1)


def test_finish_many_in_one_call(store):
    add(store, *[new(created_at=T0 + i / 1000) for i in range(5)])
    tasks = store.claim("echo", "a", 5, T0, T0, T0 + LEASE)
    done = store.finish([outcome(t, TaskState.COMPLETED) for t in tasks])
    assert {t.status for t in done} == {TaskState.COMPLETED} and len(done) == 5


def test_a_batch_of_outcomes_comes_back_in_their_order(store):
    """One statement stores a batch; its rows come back in no order of their own, the
    stored tasks in that of the outcomes, fenced ones left out."""
    add(store, *[new() for _ in range(6)])
    tasks = store.claim("echo", "a", 6, T0, T0, T0 + LEASE)
    outcomes = [outcome(t, TaskState.COMPLETED) for t in reversed(tasks)]
    stale = Outcome(tasks[0].id, "a", 2, TaskState.FAILED, T0 + 1)
    done = store.finish([*outcomes[:3], stale, *outcomes[3:]])
    assert [t.id for t in done] == [o.task_id for o in outcomes]
    assert {t.status for t in done} == {TaskState.COMPLETED}
    assert store.get_task(tasks[0].id).status is TaskState.COMPLETED
    assert store.finish([]) == []


def test_a_batch_larger_than_one_statement_takes_is_stored_whole(store):
    add(store, *[new(created_at=T0 + i / 1000, max_retries=1) for i in range(250)])
    tasks = store.claim("echo", "a", 250, T0, T0, T0 + LEASE)
    outcomes = [
        outcome(t, TaskState.FAILED if i % 2 else TaskState.COMPLETED, retry_at=T0 + 9)
        for i, t in enumerate(tasks)
    ]
    done = store.finish(outcomes)
    assert [t.id for t in done] == [t.id for t in tasks]
    assert [t.status for t in done] == [
        TaskState.SCHEDULED if i % 2 else TaskState.COMPLETED for i in range(250)
    ]


def test_outcomes_are_stored_as_given(store):
    """Outputs and errors with quotes, backslashes and any character, and instants to the
    last bit, are stored unchanged."""
    add(store, new(max_retries=1), new(max_retries=1, created_at=T0 + 0.001))
    retried, done = store.claim("echo", "a", 2, T0, T0, T0 + LEASE)
    output = '{"say": "\\"h\u00e9\\" \\\\ \u2603\\n", "n": 1e-300}'
    error = 'it\'s "bad" \\ \u00e9\n'
    at = T0 + 0.1 + 2**-30
    store.finish(
        [
            outcome(retried, TaskState.FAILED, at, error=error, retry_at=at + 1 / 3),
            outcome(done, TaskState.COMPLETED, at, output_json=output, output_truncated=True),
        ]
    )
    retried, done = store.get_task(retried.id), store.get_task(done.id)
    assert (retried.status, retried.error, retried.execute_at) == ("scheduled", error, at + 1 / 3)
    assert (done.status, done.finished_at, done.output_truncated) == ("completed", at, True)
    assert done.output == {"say": '"h\u00e9" \\ \u2603\n', "n": 1e-300}


# -- leases and recovery -----------------------------------------------------------------------


def test_renewed_lease_is_not_recovered(store):
    add(store, new())
    task = claim_one(store)
    assert store.renew_leases("a", T0 + 100, [task.id]) == LeaseReport()
    assert store.recover(T0 + 50) == []
    assert store.get_task(task.id).lease_until == T0 + 100


def test_renewal_reports_lost_and_canceling_tasks(store):
    add(store, new(max_retries=1), new(max_retries=1, created_at=T0 + 0.001))
    kept, taken = store.claim("echo", "a", 2, T0, T0, T0 + LEASE)
    store.recover(T0 + LEASE + 1)  # both leases expired: queued again, and taken by "b"
    store.claim("echo", "b", 2, T0 + LEASE + 1, T0 + LEASE + 1, T0 + 2 * LEASE)
    assert store.renew_leases("a", T0 + 3 * LEASE, [kept.id, taken.id]) == LeaseReport(
        lost=frozenset({kept.id, taken.id})
    )
    store.cancel(kept.id, T0 + LEASE + 2)
    assert store.renew_leases("b", T0 + 3 * LEASE, [kept.id, taken.id]) == LeaseReport(
        canceling=frozenset({kept.id})
    )


def test_runner_heartbeats_are_upserted_listed_and_forgotten(store):
    first = RunnerInfo("h:1:a", "h", 1, T0, T0, ["echo"], {})
    store.record_heartbeat(first)
    store.record_heartbeat(replace(first, heartbeat_at=T0 + 2, running={"echo": 1}))
    store.record_heartbeat(RunnerInfo("g:2:b", "g", 2, T0, T0 + 1, [], {}))
    assert [(r.id, r.heartbeat_at, r.running) for r in store.list_runners()] == [
        ("g:2:b", T0 + 1, {}),
        ("h:1:a", T0 + 2, {"echo": 1}),
    ]
    assert store.forget_runners(T0 + 1.5) == 1
    store.remove_runner("h:1:a")
    store.remove_runner("h:1:a")
    assert store.list_runners() == []


def test_expired_lease_is_retried_or_failed_interrupted(store):
    add(store, new(max_retries=1, created_at=T0), new(created_at=T0 + 0.001))
    retried_task, failing_task = store.claim("echo", "a", 2, T0, T0, T0 + LEASE)
    recovered = {t.id: t for t in store.recover(T0 + LEASE + 1)}
    assert recovered[retried_task.id].status is TaskState.QUEUED
    assert recovered[retried_task.id].execute_at == T0 + LEASE + 1
    assert recovered[failing_task.id].status is TaskState.FAILED
    assert recovered[failing_task.id].error == "interrupted"
    assert recovered[failing_task.id].owner is None
    again = claim_one(store, owner="b", now=T0 + LEASE + 1)
    assert again.attempts == 2
    assert store.finish([outcome(retried_task, TaskState.COMPLETED)]) == []


def test_recover_by_owner_and_canceling_ends_canceled(store):
    add(store, new(created_at=T0), new(created_at=T0 + 0.001))
    mine, theirs = store.claim("echo", "a", 1, T0, T0, T0 + LEASE) + store.claim(
        "echo", "b", 1, T0, T0, T0 + LEASE
    )
    store.cancel(mine.id, T0)
    assert store.owners() == {"a", "b"}
    (recovered,) = store.recover(T0 + 1, owner="a")
    assert recovered.id == mine.id and recovered.status is TaskState.CANCELED
    assert store.get_task(theirs.id).status is TaskState.RUNNING
    assert store.owners() == {"b"}


def test_canceling_ids_are_the_owners_flagged_tasks(store):
    add(store, new(created_at=T0), new(created_at=T0 + 0.001))
    _first, second = store.claim("echo", "a", 2, T0, T0, T0 + LEASE)
    assert store.canceling_ids("a") == []
    store.cancel(second.id, T0)
    assert store.canceling_ids("a") == [second.id]
    assert store.canceling_ids("b") == []


# -- transitions asked for by clients --------------------------------------------------------


def test_cancel_waiting_task(store):
    (task,) = add(store, new(execute_at=T0 + 60))
    canceled = store.cancel(task.id, T0 + 1)
    assert canceled.status is TaskState.CANCELED and canceled.finished_at == T0 + 1
    assert store.claim("echo", "a", 1, T0 + 100, T0 + 100, T0 + 200) == []


def test_cancel_finished_or_missing(store):
    add(store, new())
    task = claim_one(store)
    store.finish([outcome(task, TaskState.COMPLETED)])
    with pytest.raises(StateConflict):
        store.cancel(task.id, T0)
    with pytest.raises(TaskNotFound):
        store.cancel(new_id(T0), T0)


def test_update_waiting_changes_fields_and_due_state(store):
    (task,) = add(store, new(execute_at=T0 + 60))
    changed = store.update_waiting(
        task.id, {"config": {"message": "new"}, "timeout": 3.0, "max_retries": 2}, T0
    )
    assert changed.config == {"message": "new"} and changed.timeout == 3.0
    assert changed.max_retries == 2 and changed.status is TaskState.SCHEDULED
    due = store.update_waiting(task.id, {"execute_at": T0}, T0)
    assert due.status is TaskState.QUEUED and due.execute_at == T0
    later = store.update_waiting(task.id, {"execute_at": T0 + 30}, T0)
    assert later.status is TaskState.SCHEDULED


def test_update_of_running_task_conflicts(store):
    add(store, new())
    task = claim_one(store)
    with pytest.raises(StateConflict):
        store.update_waiting(task.id, {"timeout": 1.0}, T0)


def test_pause_resume_run_now(store):
    (task,) = add(store, new(execute_at=T0 + 60))
    assert store.pause(task.id).status is TaskState.PAUSED
    assert store.claim("echo", "a", 1, T0 + 100, T0 + 100, T0 + 200) == []
    with pytest.raises(StateConflict):
        store.pause(task.id)
    edited = store.update_waiting(task.id, {"execute_at": T0}, T0)
    assert edited.status is TaskState.PAUSED
    assert store.resume(task.id, T0 + 1).status is TaskState.QUEUED
    with pytest.raises(StateConflict):
        store.resume(task.id, T0 + 1)
    store.update_waiting(task.id, {"execute_at": T0 + 60}, T0)
    run = store.run_now(task.id, T0 + 2)
    assert run.status is TaskState.QUEUED and run.execute_at == T0 + 2


def test_delete_only_terminal(store):
    (waiting,) = add(store, new())
    with pytest.raises(StateConflict):
        store.delete_task(waiting.id)
    store.cancel(waiting.id, T0)
    store.delete_task(waiting.id)
    assert store.get_task(waiting.id) is None
    with pytest.raises(TaskNotFound):
        store.delete_task(waiting.id)


def test_prune_removes_only_old_terminal_tasks(store):
    old, recent, waiting = add(
        store,
        new(created_at=T0),
        new(created_at=T0 + 0.001),
        new(created_at=T0 + 0.002, execute_at=T0 + 999),
    )
    store.cancel(old.id, T0)
    store.cancel(recent.id, T0 + 100)
    assert store.prune(T0 + 50) == 1
    assert store.get_task(old.id) is None
    assert store.get_task(recent.id) is not None and store.get_task(waiting.id) is not None


def test_worker_counts(store):
    add(store, *[new(created_at=T0 + i / 1000) for i in range(3)], new(worker="sleeper"))
    a, b, _c = store.claim("echo", "a", 3, T0, T0, T0 + LEASE)
    store.finish(
        [outcome(a, TaskState.COMPLETED, at=T0 + 2), outcome(b, TaskState.FAILED, at=T0 + 4)]
    )
    counts = store.worker_counts("echo")
    assert counts.by_status == {"completed": 1, "failed": 1, "running": 1}
    assert list(counts.durations) == [2.0, 4.0]
    assert counts.durations.typecode == "d"  # compact: 8 bytes a duration
    assert counts.last_finished_at == T0 + 4


def test_ping(store):
    store.ping()


def _use_in_child(store, queue) -> None:
    store.create_tasks([new()])
    queue.put(len(store.list_tasks(TaskFilter(), 10, None).tasks))
    store.close()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_connections(store):
    """A gunicorn worker forked from a process that already used the store (its
    connections, pool, locks) writes and reads on connections of its own."""
    store.create_tasks([new()])  # the parent's connections are open
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_use_in_child, args=(store, queue))
    child.start()
    assert queue.get(timeout=20) == 2
    child.join(20)
    assert child.exitcode == 0
    assert len(store.list_tasks(TaskFilter(), 10, None).tasks) == 2  # the parent's still works
