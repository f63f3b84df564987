"""The backup contract of every store: a snapshot reads the store as it was when it began,
whatever is written meanwhile; a restore inserts rows whole, leaves stored ids alone and
refuses a second holder of an idempotency key."""

from __future__ import annotations

import threading

from tasky.backup.format import Writer, parse_line
from tasky.ids import new_id
from tasky.models import Chain, NewTask, Outcome, Schedule, ScheduleState, TaskState
from tasky.stores.rows import SCHEDULE, TASK
from tasky.stores.sqlite import SQLiteStore

T0 = 1_800_000_000.0


def new(i: int, **kw) -> NewTask:
    return NewTask(new_id(T0 + i), "echo", {"n": i}, T0 + 60, T0 + i, **kw)


def schedule(i: int) -> Schedule:
    return Schedule(
        id=new_id(T0 + i),
        worker="echo",
        config={"n": i},
        cron=None,
        interval=60.0,
        timezone="UTC",
        status=ScheduleState.ACTIVE,
        next_run_at=T0 + 60,
        created_at=T0 + i,
    )


def stored_rows(store) -> tuple[list[tuple], list[tuple]]:
    with store.snapshot() as snap:
        return list(snap.schedules()), list(snap.tasks())


def test_a_snapshot_counts_and_reads_every_row_in_id_order(store):
    tasks = [task for task, _ in store.create_tasks([new(i) for i in range(5)])]
    made = [store.create_schedule(schedule(i)) for i in range(2)]
    with store.snapshot() as snap:
        assert snap.counts() == (0, 2, 5)
        schedule_rows, task_rows = list(snap.schedules()), list(snap.tasks())
    assert [row[0] for row in task_rows] == sorted(task.id for task in tasks)
    assert [row[0] for row in schedule_rows] == sorted(s.id for s in made)
    assert [TASK.from_row(row) for row in task_rows] == sorted(tasks, key=lambda t: t.id)
    assert [SCHEDULE.from_row(row) for row in schedule_rows] == made


def test_a_snapshot_does_not_see_what_is_written_after_it_began(store):
    store.create_tasks([new(i) for i in range(3)])
    first = store.create_tasks([new(10)])[0][0]
    with store.snapshot() as snap:
        assert snap.counts() == (0, 0, 4)
        # Other writers go on, in other threads, while the snapshot is open.
        writer = threading.Thread(
            target=lambda: (
                store.create_tasks([new(20 + i) for i in range(3)]),
                store.cancel(first.id, T0 + 1),
                store.create_schedule(schedule(30)),
            )
        )
        writer.start()
        writer.join(30)
        assert not writer.is_alive(), "a write waited for the snapshot"
        rows = list(snap.tasks())
        assert len(rows) == 4 and list(snap.schedules()) == []
        status = {row[0]: row[2] for row in rows}
        assert status[first.id] == "scheduled"
        assert snap.counts() == (0, 0, 4)
    assert store.get_task(first.id).status is TaskState.CANCELED
    with store.snapshot() as snap:
        assert snap.counts() == (0, 1, 7)


def test_a_snapshot_streams_more_rows_than_a_fetch(store):
    store.create_tasks([new(i) for i in range(12_000)])
    with store.snapshot() as snap:
        assert sum(1 for _ in snap.tasks()) == 12_000


def moved(rows: tuple[list[tuple], list[tuple]]) -> tuple[list[tuple], list[tuple]]:
    """Rows of a snapshot as an import reads them from the export's lines."""
    schedules = [parse_line(Writer("schedule")(row))[1] for row in rows[0]]
    return schedules, [parse_line(Writer("task")(row))[1] for row in rows[1]]


def test_rows_restore_whole_into_another_store(store, tmp_path):
    source = SQLiteStore(str(tmp_path / "source.db"))
    try:
        done, queued = (t for t, _ in source.create_tasks([new(1), new(2, max_retries=2)]))
        (held,) = source.claim("echo", "a", 1, T0 + 61, T0 + 61, T0 + 91)
        source.finish([Outcome(held.id, "a", 1, TaskState.COMPLETED, T0 + 62, '{"x": 1}')])
        keyed = source.create_tasks([new(3, idempotency_key="k-1")])[0][0]
        source.create_schedule(schedule(4))
        schedules, tasks = moved(stored_rows(source))
        originals = [source.get_task(row[0]) for row in tasks]
        original_schedule = source.get_schedule(schedules[0][0])
    finally:
        source.close()
    _, restored_schedules, restored_tasks = store.restore([], schedules, tasks)
    assert restored_tasks.inserted == {row[0] for row in tasks}
    assert restored_schedules.inserted == {row[0] for row in schedules}
    assert [store.get_task(task.id) for task in originals] == originals
    assert store.get_schedule(original_schedule.id) == original_schedule
    assert store.get_task(held.id).output == {"x": 1}
    # The key still makes a submit idempotent on the store restored into.
    again, created = store.create_tasks([new(9, idempotency_key="k-1")])[0]
    assert not created and again.id == keyed.id
    assert {done.id, queued.id} <= {row[0] for row in tasks}


def test_a_restore_leaves_stored_ids_alone_and_refuses_a_key_held_by_another(store):
    (mine,) = [t for t, _ in store.create_tasks([new(1, idempotency_key="taken")])]
    kept = store.create_schedule(schedule(2))
    (schedule_row,), (task_row,) = moved(stored_rows(store))
    changed_schedule = (*schedule_row[:15], 99, *schedule_row[16:])  # runs
    thief = (new_id(T0 + 5), *task_row[1:])  # another id, the same key
    fresh = (new_id(T0 + 6), *task_row[1:13], None, *task_row[14:])  # no key
    _, result_schedules, result_tasks = store.restore(
        [], [changed_schedule], [task_row, thief, fresh, fresh]
    )
    assert result_schedules.existing == {kept.id} and not result_schedules.inserted
    assert store.get_schedule(kept.id).runs == 0
    assert result_tasks.inserted == {fresh[0]}
    assert result_tasks.existing == {mine.id, fresh[0]}  # stored, or twice in the rows
    assert result_tasks.conflicting == {thief[0]}
    assert store.get_task(thief[0]) is None
    assert store.get_task(fresh[0]).idempotency_key is None


def test_of_an_id_given_twice_the_first_row_is_restored(store):
    store.create_tasks([new(1)])
    (_, (row,)) = moved(stored_rows(store))
    first = (new_id(T0 + 7), *row[1:])
    second = (*first[:13], "second", *first[14:])  # the same id, with an idempotency key
    restored = store.restore([], [], [first, second, second])[2]
    assert restored.inserted == {first[0]} and restored.existing == {first[0]}
    assert store.get_task(first[0]).idempotency_key is None
    again = [store.restore([], [], [first])[2] for _ in range(3)]  # later transactions
    assert all(r.existing == {first[0]} and not r.inserted for r in again)


def test_a_chain_and_its_dependencies_restore_and_release_as_before(store, tmp_path):
    """A chain's record, its steps' dependency fields, and the edges that release a child
    when its parent ends, all come back: the restored child is released by its parent."""
    source = SQLiteStore(str(tmp_path / "source.db"))
    try:
        chain_id, parent_id, child_id = sorted(new_id(T0 + i) for i in range(3))
        parent = NewTask(parent_id, "echo", {}, T0, T0, chain_id=chain_id, step="a")
        child = NewTask(
            child_id, "echo", {}, T0, T0, depends_on=[parent_id], chain_id=chain_id, step="b"
        )
        source.create_chain(Chain(chain_id, "nightly", "cancel_all", T0, "key-1"), [parent, child])
        with source.snapshot() as snap:
            assert snap.counts() == (1, 0, 2)
            chains = [parse_line(Writer("chain")(row))[1] for row in snap.chains()]
            tasks = [parse_line(Writer("task")(row))[1] for row in snap.tasks()]
        originals = [source.get_task(parent_id), source.get_task(child_id)]
        original_chain = source.get_chain(chain_id)
    finally:
        source.close()
    restored_chains, _, restored_tasks = store.restore(chains, [], tasks)
    assert restored_chains.inserted == {chain_id}
    assert restored_tasks.inserted == {parent_id, child_id}
    assert store.get_chain(chain_id) == original_chain
    assert [store.get_task(parent_id), store.get_task(child_id)] == originals
    assert store.get_task(child_id).status is TaskState.BLOCKED
    (claimed,) = store.claim("echo", "a", 1, T0 + 1, T0 + 1, T0 + 31)
    assert claimed.id == parent_id
    store.finish([Outcome(parent_id, "a", 1, TaskState.COMPLETED, T0 + 2)])
    assert store.get_task(child_id).status is TaskState.QUEUED
