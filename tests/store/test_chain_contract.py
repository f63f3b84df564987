"""The store contract for chains, on both stores."""

from __future__ import annotations

import pytest

from tasky.errors import ChainNotFound, InvalidInput, StateConflict
from tasky.ids import new_ids
from tasky.models import Chain, NewTask, Outcome, TaskState

T0 = 1_800_000_000.0


def make_chain(store, steps, policy="continue", key=None):
    """``steps``: (name, parent names) pairs; each step a task of the worker of its name."""
    chain_id, *ids = sorted(new_ids(T0, len(steps) + 1))
    by_name = {name: task_id for (name, _), task_id in zip(steps, ids, strict=True)}
    news = [
        NewTask(
            id=by_name[name],
            worker=name,
            config={},
            execute_at=T0,
            created_at=T0,
            depends_on=[by_name[p] for p in parents] or None,
            chain_id=chain_id,
            step=name,
        )
        for name, parents in steps
    ]
    chain, created = store.create_chain(Chain(chain_id, "c", policy, T0, key), news)
    return chain, created, by_name


def end(store, task_id, status=TaskState.COMPLETED, at=T0 + 1):
    worker = store.get_task(task_id).worker
    (task,) = store.claim(worker, "a", 1, at, at, at + 30)
    return store.finish([Outcome(task.id, "a", task.attempts, status, at)])


def states(store, chain_id):
    return {t.step: t.status for t in store.chain_steps(chain_id)}


def test_a_chain_and_its_steps_are_stored_together(store):
    chain, created, ids = make_chain(store, [("a", []), ("b", ["a"])])
    assert created and store.get_chain(chain.id) == chain
    assert [t.id for t in store.chain_steps(chain.id)] == [ids["a"], ids["b"]]
    assert states(store, chain.id) == {"a": TaskState.QUEUED, "b": TaskState.BLOCKED}
    assert store.chain_counts([chain.id]) == {chain.id: {"queued": 1, "blocked": 1}}


def test_an_idempotency_key_returns_the_stored_chain(store):
    first, _, _ = make_chain(store, [("a", [])], key="k")
    again, created, _ = make_chain(store, [("a", []), ("b", [])], key="k")
    assert (again, created) == (first, False)
    assert len(store.chain_steps(first.id)) == 1


def test_a_chain_is_all_or_nothing(store):
    chain_id, a, b = sorted(new_ids(T0, 3))
    news = [
        NewTask(a, "a", {}, T0, T0, chain_id=chain_id, step="a"),
        NewTask(b, "b", {}, T0, T0, depends_on=["f" * 32], chain_id=chain_id, step="b"),
    ]
    with pytest.raises(InvalidInput):
        store.create_chain(Chain(chain_id, None, "continue", T0), news)
    assert store.get_chain(chain_id) is None and store.get_task(a) is None


def test_cancel_all_cancels_the_unfinished_steps_when_one_fails(store):
    chain, _, ids = make_chain(store, [("a", []), ("b", []), ("c", ["b"])], "cancel_all")
    store.claim("b", "a", 1, T0, T0, T0 + 30)
    end(store, ids["a"], TaskState.FAILED)
    assert states(store, chain.id) == {
        "a": TaskState.FAILED,
        "b": TaskState.CANCELING,
        "c": TaskState.CANCELED,
    }


def test_continue_lets_independent_branches_go_on(store):
    chain, _, ids = make_chain(store, [("a", []), ("b", []), ("c", ["a"])])
    end(store, ids["a"], TaskState.FAILED)
    assert states(store, chain.id)["b"] is TaskState.QUEUED
    assert states(store, chain.id)["c"] is TaskState.SKIPPED


def test_cancel_chain_ends_waiting_steps_and_flags_running_ones(store):
    chain, _, _ = make_chain(store, [("a", []), ("b", ["a"])])
    store.claim("a", "a", 1, T0, T0, T0 + 30)
    changed = store.cancel_chain(chain.id, T0 + 1)
    assert {t.step: t.status for t in changed} == {
        "a": TaskState.CANCELING,
        "b": TaskState.CANCELED,
    }
    assert store.get_chain(chain.id).canceled_at == T0 + 1
    with pytest.raises(ChainNotFound):
        store.cancel_chain("0" * 32, T0)


def test_retry_resets_the_failed_and_what_depends_on_them(store):
    chain, _, ids = make_chain(store, [("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a"])])
    with pytest.raises(StateConflict):
        store.retry_chain(chain.id, T0 + 2)
    end(store, ids["a"])
    end(store, ids["d"])
    end(store, ids["b"], TaskState.FAILED)
    reset = store.retry_chain(chain.id, T0 + 5)
    assert {t.step for t in reset} == {"b", "c"}
    assert states(store, chain.id) == {
        "a": TaskState.COMPLETED,
        "b": TaskState.QUEUED,
        "c": TaskState.BLOCKED,
        "d": TaskState.COMPLETED,
    }
    b = store.get_task(ids["b"])
    assert (b.attempts, b.error, b.finished_at, b.execute_at) == (0, None, None, T0 + 5)


def test_delete_chain_once_every_step_ended(store):
    chain, _, ids = make_chain(store, [("a", [])])
    with pytest.raises(StateConflict):
        store.delete_chain(chain.id)
    end(store, ids["a"])
    store.delete_chain(chain.id)
    assert store.get_chain(chain.id) is None and store.get_task(ids["a"]) is None
    with pytest.raises(ChainNotFound):
        store.delete_chain(chain.id)


def test_list_chains_newest_first_by_name(store):
    first, _, _ = make_chain(store, [("a", [])])
    second, _, _ = make_chain(store, [("a", [])])
    page = store.list_chains(10, None)
    assert {c.id for c in page.chains} == {first.id, second.id}
    assert store.list_chains(10, None, name="other").chains == []


def _chain_schedule(store):
    from tasky.chain_runs import chain_run
    from tasky.ids import new_id
    from tasky.models import Schedule, ScheduleState

    template = {
        "name": "nightly",
        "failure_policy": "continue",
        "steps": [
            {"step": "a", "worker": "a", "config": {}},
            {"step": "b", "worker": "b", "config": {}, "depends_on": ["a"], "delay": 5},
        ],
    }
    schedule = store.create_schedule(
        Schedule(
            id=new_id(T0),
            worker="",
            config={},
            cron=None,
            interval=60.0,
            timezone="UTC",
            status=ScheduleState.ACTIVE,
            next_run_at=T0,
            created_at=T0,
            chain=template,
        )
    )
    return schedule, lambda at: chain_run(template, at, at, schedule_id=schedule.id)


def test_a_chain_schedules_tick_stores_one_chain_run(store):
    schedule, run_at = _chain_schedule(store)
    assert store.get_schedule(schedule.id).chain == schedule.chain
    firing = store.fire_schedule(schedule.id, T0, T0 + 60, run_at(T0), T0, skip_if_running=True)
    assert firing.won and firing.task.step == "a" and firing.task.schedule_id == schedule.id
    steps = store.chain_steps(firing.task.chain_id)
    assert [(t.step, t.status, t.execute_at) for t in steps] == [
        ("a", TaskState.QUEUED, T0),
        ("b", TaskState.BLOCKED, T0 + 5),
    ]
    assert store.get_chain(firing.task.chain_id).name == "nightly"
    fired = store.get_schedule(schedule.id)
    assert (fired.runs, fired.last_task_id) == (1, firing.task.id)
    # overlap skip: the last chain still has a step to run, so the next tick stores nothing
    end(store, firing.task.id)
    skipped = store.fire_schedule(
        schedule.id, T0 + 60, T0 + 120, run_at(T0 + 60), T0 + 60, skip_if_running=True
    )
    assert skipped.won and skipped.task is None
    now_run = store.run_schedule_now(schedule.id, run_at(T0 + 61), T0 + 61)
    assert now_run.chain_id not in (None, firing.task.chain_id)


def test_deleting_a_chain_schedule_cancels_its_blocked_steps(store):
    schedule, run_at = _chain_schedule(store)
    firing = store.fire_schedule(schedule.id, T0, T0 + 60, run_at(T0), T0, skip_if_running=True)
    canceled = store.delete_schedule(schedule.id, T0 + 1)
    assert {t.step for t in canceled} == {"a", "b"}
    assert set(states(store, firing.task.chain_id).values()) == {TaskState.CANCELED}
