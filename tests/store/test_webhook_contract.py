"""The webhook side of the store contract: the outbox is written by the transitions, and
deliveries are claimed under a lease, on every store."""

from __future__ import annotations

import threading

import pytest

from tasky.errors import NotFound, StateConflict
from tasky.ids import new_id
from tasky.models import Chain, RunIf, TaskFilter, TaskState
from tasky.webhooks.events import Attempt, Endpoint

from .test_contract import LEASE, T0, add, claim_one, new, outcome


def endpoint(store, events=("task.completed", "task.failed", "task.canceled"), **kw):
    hook = Endpoint(
        id=new_id(T0),
        url="http://127.0.0.1:9/hook",
        events=list(events),
        worker=kw.pop("worker", None),
        chain_id=kw.pop("chain_id", None),
        schedule_id=kw.pop("schedule_id", None),
        description="test",
        secret="whsec_c2VjcmV0",
        created_at=T0,
        **kw,
    )
    return store.create_webhook(hook)


def pending(store, now=T0 + 10, owner="r"):
    return store.claim_deliveries(owner, 100, now, now + LEASE)


def finish_one(store, status=TaskState.COMPLETED, **kw):
    (task,) = add(store, new(**kw))
    claimed = claim_one(store)
    output = '{"ok": 1}' if status is TaskState.COMPLETED else None
    store.finish([outcome(claimed, status, output_json=output, retry_at=T0 + 5)])
    return task


def test_no_endpoint_no_callback_writes_nothing(store):
    finish_one(store)
    assert pending(store) == []
    assert store.delivery_counts() == {}


def test_a_finish_stores_the_delivery_of_each_matching_endpoint(store):
    hook = endpoint(store)
    other = endpoint(store, worker="sleeper")
    endpoint(store, events=["task.failed"])
    task = finish_one(store)
    ((delivery, got),) = pending(store)
    assert got == hook and delivery.webhook_id == hook.id and other.id != delivery.webhook_id
    assert delivery.event == "task.completed" and delivery.attempts == 1
    data = delivery.payload["data"]
    assert delivery.payload["type"] == "task.completed"
    assert (data["task_id"], data["status"], data["output"]) == (task.id, "completed", {"ok": 1})
    assert data["result_url"] == f"/tasky/v1/tasks/{task.id}/result"
    assert data["finished_at"].endswith("Z") and data["output_truncated"] is False


def test_a_failure_with_retries_left_is_no_event(store):
    endpoint(store)
    finish_one(store, TaskState.FAILED, max_retries=1)
    assert pending(store) == []


def test_cancel_and_recovery_are_events(store):
    endpoint(store)
    (waiting,) = add(store, new(execute_at=T0 + 600))
    store.cancel(waiting.id, T0)
    add(store, new())
    claim_one(store)
    store.recover(T0 + LEASE + 1)
    events = sorted((d.event, d.payload["data"]["error"]) for d, _ in pending(store, T0 + 100))
    assert events == [("task.canceled", None), ("task.failed", "interrupted")]


def test_a_skipped_child_is_an_event(store):
    endpoint(store, events=["task.skipped", "task.failed"])
    (parent,) = add(store, new())
    (child,) = add(store, new(depends_on=[parent.id], run_if=RunIf.ALL_SUCCESS))
    store.finish([outcome(claim_one(store), TaskState.FAILED)])
    got = sorted((d.event, d.payload["data"]["task_id"]) for d, _ in pending(store))
    assert got == sorted([("task.failed", parent.id), ("task.skipped", child.id)])


def test_a_bulk_cancel_settles_what_it_ends_as_a_cancel_alone_does(store):
    """Its tasks' events are stored and a blocked child of a canceled parent is skipped."""
    endpoint(store, events=["task.canceled", "task.skipped"])
    (parent,) = add(store, new(execute_at=T0 + 600))
    (child,) = add(store, new(depends_on=[parent.id], run_if=RunIf.ALL_SUCCESS))
    bound = max(parent.id, child.id)
    changed = store.act_on_matching(TaskFilter(), "cancel", bound, None, 100, T0)
    assert [task.id for task in changed] == [parent.id]  # a blocked task is not bulk-canceled
    assert store.get_task(child.id).status is TaskState.SKIPPED
    got = sorted((d.event, d.payload["data"]["task_id"]) for d, _ in pending(store))
    assert got == sorted([("task.canceled", parent.id), ("task.skipped", child.id)])


def test_chain_cancel_events_follow_the_chain_filter(store):
    chain = Chain(id=new_id(T0), name="c", failure_policy="continue", created_at=T0)
    hook = endpoint(store, chain_id=chain.id)
    endpoint(store, chain_id="0" * 32)
    store.create_chain(chain, [new(chain_id=chain.id, step="a")])
    store.cancel_chain(chain.id, T0)
    ((delivery, got),) = pending(store)
    assert got == hook and delivery.payload["data"]["chain_id"] == chain.id


def test_callbacks_of_a_task_and_of_a_schedule(store):
    (task,) = add(store, new())
    store.add_callbacks([(task.id, "http://127.0.0.1:9/task"), ("s" * 32, "http://x/s")])
    store.finish([outcome(claim_one(store), TaskState.COMPLETED)])
    add(store, new(schedule_id="s" * 32))
    store.finish([outcome(claim_one(store), TaskState.COMPLETED)])
    got = sorted((d.url, d.webhook_id, e) for d, e in pending(store))
    assert got == [("http://127.0.0.1:9/task", None, None), ("http://x/s", None, None)]


def test_a_delivery_is_claimed_once_and_again_after_its_lease(store):
    endpoint(store)
    finish_one(store)
    ((first, _),) = pending(store, owner="a")
    assert pending(store, owner="b") == []
    ((again, _),) = pending(store, now=T0 + 10 + LEASE + 1, owner="b")
    assert (again.id, again.attempts, again.owner) == (first.id, 2, "b")
    late = Attempt(True, 200, 0.1, "ok", None, None)
    assert store.record_attempt(first, late, T0 + 50) is False
    assert store.record_attempt(again, late, T0 + 50) is True
    stored = store.get_delivery(first.id)
    assert (stored.status, stored.delivered_at, stored.last_status) == ("delivered", T0 + 50, 200)


def test_concurrent_claims_take_each_delivery_once(store):
    endpoint(store)
    for _ in range(20):
        finish_one(store)
    taken: list[str] = []
    lock = threading.Lock()

    def take(owner):
        for _ in range(10):
            got = store.claim_deliveries(owner, 3, T0 + 10, T0 + 10 + LEASE)
            with lock:
                taken.extend(d.id for d, _ in got)

    threads = [threading.Thread(target=take, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 20


def test_a_retry_waits_for_its_time_and_keeps_its_id(store):
    endpoint(store)
    finish_one(store)
    ((first, _),) = pending(store)
    retry = Attempt(False, 500, 0.2, "x" * 5000, None, retry_at=T0 + 100)
    assert store.record_attempt(first, retry, T0 + 11)
    stored = store.get_delivery(first.id)
    assert (stored.status, stored.last_status, len(stored.last_answer)) == ("pending", 500, 1024)
    assert store.next_delivery_at(T0 + 11) == T0 + 100
    assert pending(store, now=T0 + 99) == []
    ((second, _),) = pending(store, now=T0 + 100)
    assert (second.id, second.attempts) == (first.id, 2)
    assert store.record_attempt(second, Attempt(False, None, None, None, "refused", None), T0)
    assert store.get_delivery(first.id).status == "failed"


def test_a_410_disables_the_endpoint_and_fails_its_pending_deliveries(store):
    hook = endpoint(store)
    finish_one(store)
    finish_one(store)
    (first, _), (second, _) = pending(store)
    gone = Attempt(False, 410, 0.1, "", None, None, gone=True)
    assert store.record_attempt(first, gone, T0 + 20)
    assert store.get_webhook(hook.id).disabled_at == T0 + 20
    assert store.get_delivery(second.id).status == "failed"
    assert "410" in store.get_delivery(second.id).last_error
    finish_one(store)
    assert pending(store, now=T0 + 200) == []  # a disabled endpoint gets nothing new
    with pytest.raises(StateConflict):
        store.retry_delivery(second.id, T0 + 30)


def test_retry_of_a_delivery(store):
    endpoint(store)
    finish_one(store)
    ((claimed, _),) = pending(store)
    with pytest.raises(StateConflict):
        store.retry_delivery(claimed.id, T0 + 11)  # being sent
    store.record_attempt(claimed, Attempt(True, 204, 0.1, "", None, None), T0 + 12)
    again = store.retry_delivery(claimed.id, T0 + 13)
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, T0 + 13)
    with pytest.raises(NotFound):
        store.retry_delivery("0" * 32, T0)


def test_endpoints_read_page_change_rotate_ping_and_delete(store):
    hooks = [endpoint(store) for _ in range(3)]
    first = store.list_webhooks(2, None)
    rest = store.list_webhooks(2, first.next_cursor)
    assert [h.id for h in first.webhooks + rest.webhooks] == sorted(
        (h.id for h in hooks), reverse=True
    )
    assert rest.next_cursor is None
    hook = hooks[0]
    changed = store.update_webhook(hook.id, {"events": ["task.skipped"], "description": None})
    assert (changed.events, changed.description) == (["task.skipped"], None)
    rotated = store.update_webhook(
        hook.id, {"secret": "whsec_bmV3", "previous_secret": hook.secret, "previous_until": T0}
    )
    assert rotated.secrets(T0 - 1) == ["whsec_bmV3", hook.secret]
    assert rotated.secrets(T0) == ["whsec_bmV3"]
    ping = store.ping_webhook(hook.id, T0)
    assert ping.event == "ping" and ping.payload["data"] == {"webhook_id": hook.id}
    page = store.list_deliveries(hook.id, 10, None)
    assert [d.id for d in page.deliveries] == [ping.id]
    store.delete_webhook(hook.id)
    assert store.get_webhook(hook.id) is None and store.get_delivery(ping.id) is None
    for call in (
        lambda: store.delete_webhook(hook.id),
        lambda: store.update_webhook(hook.id, {"url": "http://x"}),
        lambda: store.ping_webhook(hook.id, T0),
        lambda: store.list_deliveries(hook.id, 10, None),
    ):
        with pytest.raises(NotFound):
            call()


def test_prune_deliveries_keeps_pending_ones(store):
    hook = endpoint(store)
    finish_one(store)
    finish_one(store)
    (done, _), _ = pending(store)
    store.record_attempt(done, Attempt(True, 200, 0.1, "", None, None), T0 + 20)
    assert store.prune_deliveries(T0 + 1000) == 1
    assert [d.status for d in store.list_deliveries(hook.id, 10, None).deliveries] == ["pending"]


def chain_of(store, policy="continue", steps=2):
    chain = Chain(id=new_id(T0), name="nightly", failure_policy=policy, created_at=T0)
    first = new(chain_id=chain.id, step="a")
    rest = [new(chain_id=chain.id, step=f"s{i}", depends_on=[first.id]) for i in range(steps - 1)]
    store.create_chain(chain, [first, *rest])
    return chain


def test_a_chain_end_is_one_event_when_its_last_step_ends(store):
    endpoint(store, events=["chain.completed", "chain.failed"], worker="sleeper")
    chain = chain_of(store)
    store.finish([outcome(claim_one(store), TaskState.COMPLETED)])
    assert pending(store) == []
    store.finish([outcome(claim_one(store, now=T0 + 1), TaskState.COMPLETED, at=T0 + 2)])
    ((delivery, _),) = pending(store, now=T0 + 20)
    assert delivery.event == "chain.completed"
    data = delivery.payload["data"]
    assert (data["chain_id"], data["name"], data["steps"]) == (
        chain.id,
        "nightly",
        {"completed": 2},
    )


def test_a_failing_step_of_a_cancel_all_chain_is_one_chain_failed(store):
    endpoint(store, events=["chain.failed", "chain.canceled", "task.canceled"])
    chain = chain_of(store, policy="cancel_all", steps=3)
    store.finish([outcome(claim_one(store), TaskState.FAILED)])
    got = sorted(d.event for d, _ in pending(store))
    assert got == ["chain.failed", "task.canceled", "task.canceled"]
    other = chain_of(store)
    store.cancel_chain(other.id, T0)
    chain_events = [d for d, _ in pending(store, now=T0 + 20) if d.event.startswith("chain.")]
    assert [(d.event, d.payload["data"]["chain_id"]) for d in chain_events] == [
        ("chain.canceled", other.id)
    ]
    assert chain.id != other.id


def test_a_chain_callback_gets_its_steps_and_its_end(store):
    chain = Chain(id=new_id(T0), name=None, failure_policy="continue", created_at=T0)
    store.add_callbacks([(chain.id, "http://127.0.0.1:9/chain")])
    store.create_chain(chain, [new(chain_id=chain.id, step="a")])
    store.finish([outcome(claim_one(store), TaskState.COMPLETED)])
    got = sorted((d.event, d.url) for d, _ in pending(store))
    assert got == [
        ("chain.completed", "http://127.0.0.1:9/chain"),
        ("task.completed", "http://127.0.0.1:9/chain"),
    ]


def test_task_started_is_opt_in_and_stored_with_the_claim(store):
    endpoint(store)
    watcher = endpoint(store, events=["task.started"])
    (task,) = add(store, new())
    store.add_callbacks([(task.id, "http://127.0.0.1:9/cb")])
    claimed = claim_one(store)
    ((delivery, got),) = pending(store)
    assert (delivery.event, got, delivery.payload["data"]["status"]) == (
        "task.started",
        watcher,
        "running",
    )
    assert delivery.payload["data"]["task_id"] == claimed.id
    store.update_webhook(watcher.id, {"events": ["task.failed"]})
    add(store, new())
    claim_one(store)
    assert pending(store, now=T0 + 20) == []


def test_a_misfired_tick_is_an_event_with_its_catch_up_run(store):
    from .test_schedule_contract import run_of, schedule

    hook = endpoint(store, events=["schedule.misfired"], worker="echo")
    endpoint(store, events=["schedule.misfired"], chain_id="0" * 32)
    stored = store.create_schedule(schedule())
    on_time = store.fire_schedule(
        stored.id, T0 + 10, T0 + 20, run_of(stored, T0 + 10), T0 + 10, False
    )
    assert on_time.won and pending(store) == []
    late = store.fire_schedule(
        stored.id, T0 + 20, T0 + 1010, run_of(stored, T0 + 1000), T0 + 1000, False, misfired=True
    )
    ((delivery, got),) = pending(store, now=T0 + 1001)
    assert got == hook and delivery.event == "schedule.misfired"
    data = delivery.payload["data"]
    assert (data["schedule_id"], data["misfire"], data["task_id"]) == (
        stored.id,
        "run_once",
        late.task.id,
    )
