"""The scheduler and executor together, on a real SQLite file."""

from __future__ import annotations

import time

import pytest

from tasky.models import TaskFilter, TaskState
from tasky.runner import executor as executor_module
from tasky.runner.executor import backoff
from tasky.runner.scheduler import host_id
from tests.runtime.conftest import Probe
from tests.support import wait_for

pytestmark = pytest.mark.timeout(60)


def finished(service, task_id):
    task = service.get_task(task_id)
    return task if task.status.is_terminal else None


def test_task_runs_and_stores_output(service):
    task = service.submit("probe", {}).task
    done = wait_for(lambda: finished(service, task.id))
    assert done.status is TaskState.COMPLETED
    assert done.output == {"attempt": 1}
    assert done.attempts == 1 and done.started_at is not None and done.finished_at is not None


def test_future_task_starts_at_its_time_not_on_a_poll(make_runner):
    service = make_runner(poll_interval=30.0)
    execute_at = time.time() + 0.3
    task = service.submit("probe", {"execute_at": execute_at}).task
    assert task.status is TaskState.SCHEDULED
    done = wait_for(lambda: finished(service, task.id), timeout=5)
    assert Probe.started[task.id] >= execute_at
    assert done.lateness is not None and done.lateness >= 0


def test_tasks_due_in_either_order_start_on_time(make_runner):
    """With a 30 s poll, only a wake or the scheduler's own plan starts them on time."""
    service = make_runner(poll_interval=30.0)
    start = time.time()
    later = service.submit("probe", {"execute_at": start + 0.6}).task  # wakes: nothing known
    latest = service.submit("probe", {"execute_at": start + 0.8}).task  # no wake needed
    earlier = service.submit("probe", {"execute_at": start + 0.4}).task  # wakes: sooner
    for task in (earlier, later, latest):
        done = wait_for(lambda: finished(service, task.id), timeout=5)
        assert Probe.started[task.id] >= task.execute_at
        assert done.lateness < 0.2, (task.id, done.lateness)


def test_per_worker_limit_keeps_extra_tasks_queued(service):
    ids = [service.submit("probe", {"config": {"mode": "block"}}).task.id for _ in range(4)]
    wait_for(lambda: len(Probe.started) == 2)
    statuses = lambda: sorted(service.get_task(i).status.value for i in ids)  # noqa: E731
    wait_for(lambda: statuses() == ["queued", "queued", "running", "running"], timeout=5)
    assert len(Probe.started) == 2
    Probe.release.set()
    for task_id in ids:
        assert wait_for(lambda: finished(service, task_id)).status is TaskState.COMPLETED


def statuses(service, ids):
    return sorted(service.get_task(i).status.value for i in ids)


@pytest.fixture
def quick_rule(monkeypatch):
    """Quick: under 0.2 s (a busy test machine does not make a probe's attempt slow); three
    in a row start queueing."""
    monkeypatch.setattr(executor_module, "QUEUE_UNDER", 0.2)
    monkeypatch.setattr(executor_module, "QUICK_STREAK", 3)


def run_one_by_one(service, configs):
    for config in configs:
        task = service.submit("probe", {"config": config}).task
        wait_for(lambda: finished(service, task.id))


def blocked_with_a_full_queue(service):
    """After a streak of quick attempts, tasks block every slot and ``QUEUE_DEPTH`` per slot
    wait queued in the runner (``running`` in the store, not started)."""
    run_one_by_one(service, [{}] * executor_module.QUICK_STREAK)
    slots = Probe.max_num_tasks
    blocking = [
        service.submit("probe", {"config": {"mode": "block"}}).task.id for _ in range(slots)
    ]
    queued = slots * executor_module.QUEUE_DEPTH
    waiting = [service.submit("probe", {}).task.id for _ in range(queued)]
    wait_for(
        lambda: statuses(service, blocking + waiting) == ["running"] * (slots + queued), timeout=5
    )
    assert not Probe.started.keys() & set(waiting), "queued, not started"
    return blocking, waiting


def test_a_quick_worker_queues_queue_depth_tasks_per_slot(service, quick_rule):
    run_one_by_one(service, [{"mode": "sleep", "sleep": 0.4}])  # a slow first call: no matter
    blocking, waiting = blocked_with_a_full_queue(service)
    # The store shows them claimed a moment before the scheduler hands the last to the queue.
    wait_for(lambda: service.engine.executor.room("probe") == 0)  # slots and queue are full
    more = service.submit("probe", {}).task
    started = Probe.started.keys() & {*blocking, *waiting}
    assert len(started) == Probe.max_num_tasks, "at most max_num_tasks at once"
    Probe.release.set()
    for task_id in [*blocking, *waiting, more.id]:
        assert wait_for(lambda: finished(service, task_id)).status is TaskState.COMPLETED


def test_a_slow_attempt_ends_the_streak_of_quick_ones(service, quick_rule):
    run_one_by_one(service, [{}] * 3 + [{"mode": "sleep", "sleep": 0.4}])
    ids = [service.submit("probe", {"config": {"mode": "block"}}).task.id for _ in range(4)]
    wait_for(lambda: statuses(service, ids) == ["queued", "queued", "running", "running"])
    Probe.release.set()
    for task_id in ids:
        assert wait_for(lambda: finished(service, task_id)).status is TaskState.COMPLETED


def test_a_canceled_task_waiting_in_the_queue_never_runs(service, quick_rule):
    _, waiting = blocked_with_a_full_queue(service)
    assert service.cancel(waiting[0]).status is TaskState.CANCELING
    Probe.release.set()
    assert wait_for(lambda: finished(service, waiting[0])).status is TaskState.CANCELED
    assert wait_for(lambda: finished(service, waiting[1])).status is TaskState.COMPLETED
    assert waiting[0] not in Probe.started


def test_graceful_stop_runs_the_queued_tasks_and_hands_the_others_back(service, quick_rule):
    blocking, waiting = blocked_with_a_full_queue(service)
    service.engine.stop()
    for task_id in waiting:
        assert service.get_task(task_id).status is TaskState.COMPLETED
    for task_id in blocking:
        gone = service.get_task(task_id)
        assert (gone.status, gone.error) == (TaskState.FAILED, "interrupted")


def test_a_worker_with_the_base_config_gets_an_empty_config(service):
    task = service.submit("plain", {}).task
    assert wait_for(lambda: finished(service, task.id)).output == {"config": {}}


def test_cancel_running_task_stops_it_and_never_completes(service):
    task = service.submit("probe", {"config": {"mode": "sleep", "sleep": 60}}).task
    wait_for(lambda: task.id in Probe.started)
    assert service.cancel(task.id).status is TaskState.CANCELING
    started = time.monotonic()
    done = wait_for(lambda: finished(service, task.id), timeout=5)
    assert time.monotonic() - started < 1.0
    assert done.status is TaskState.CANCELED


def test_cancel_from_another_process_reaches_the_owner(make_runner):
    owner = make_runner()
    other = make_runner(start=False)
    task = owner.submit("probe", {"config": {"mode": "sleep", "sleep": 60}}).task
    wait_for(lambda: task.id in Probe.started)
    assert other.cancel(task.id).status is TaskState.CANCELING
    done = wait_for(lambda: finished(owner, task.id), timeout=5)
    assert done.status is TaskState.CANCELED


def test_cancel_waiting_task_never_runs(service):
    task = service.submit("probe", {"delay": 0.5}).task
    assert service.cancel(task.id).status is TaskState.CANCELED
    time_due = task.execute_at + 0.3
    wait_for(lambda: time.time() > time_due)
    assert task.id not in Probe.started
    assert service.get_task(task.id).status is TaskState.CANCELED


def test_timeout_fails_the_task(service):
    task = service.submit("probe", {"config": {"mode": "sleep", "sleep": 60}, "timeout": 0.2}).task
    done = wait_for(lambda: finished(service, task.id), timeout=5)
    assert done.status is TaskState.FAILED
    assert done.error == "timed out after 0.2s"


def test_retries_with_backoff_until_success(service):
    task = service.submit(
        "probe",
        {"config": {"mode": "fail", "fail_times": 2}, "max_retries": 2, "retry_backoff": 0.05},
    ).task
    done = wait_for(lambda: finished(service, task.id))
    assert done.status is TaskState.COMPLETED and done.attempts == 3
    assert done.output == {"attempt": 3}


def test_retries_exhausted_fail_with_last_error(service):
    task = service.submit(
        "probe",
        {"config": {"mode": "fail", "fail_times": 5}, "max_retries": 1, "retry_backoff": 0.05},
    ).task
    done = wait_for(lambda: finished(service, task.id))
    assert done.status is TaskState.FAILED and done.attempts == 2
    assert done.error == "RuntimeError: attempt 2 failed"


def test_task_failed_keeps_its_output(service):
    task = service.submit("probe", {"config": {"mode": "task-failed"}}).task
    done = wait_for(lambda: finished(service, task.id))
    assert (done.status, done.error, done.output) == (
        TaskState.FAILED,
        "exit code 3",
        {"exit_code": 3},
    )


def test_backoff_doubles_with_jitter_and_caps():
    for attempt, base in ((1, 1.0), (2, 1.0), (3, 2.0)):
        full = base * 2 ** (attempt - 1)
        assert full / 2 <= backoff(base, attempt) <= full
    assert backoff(1.0, 40) <= 3600


def test_output_over_the_limit_is_truncated_and_flagged(service):
    task = service.submit("probe", {"config": {"mode": "big"}}).task
    done = wait_for(lambda: finished(service, task.id))
    assert done.status is TaskState.COMPLETED and done.output_truncated
    assert isinstance(done.output, str) and len(done.output.encode()) == 1000


def test_values_json_cannot_hold_are_stored_as_the_readme_says(service):
    odd = service.submit("probe", {"config": {"mode": "odd"}}).task
    pair = service.submit("probe", {"config": {"mode": "no-json"}}).task
    odd, pair = (wait_for(lambda t=t: finished(service, t.id)) for t in (odd, pair))
    assert (odd.status, pair.status) == (TaskState.COMPLETED, TaskState.COMPLETED)
    assert odd.output == {"when": "2026-12-03", "nan": None, "1": "one"}
    assert pair.output == "{(1, 2): 'pair'}"


def test_hooks_run_after_the_state_is_stored(service):
    ok = service.submit("probe", {}).task
    bad = service.submit("probe", {"config": {"mode": "fail", "fail_times": 1}}).task
    waiting = service.submit("probe", {"delay": 60}).task
    service.cancel(waiting.id)
    wait_for(lambda: finished(service, ok.id) and finished(service, bad.id))
    wait_for(lambda: len(Probe.hook_states) == 3)
    assert sorted(Probe.hook_states) == sorted(
        [
            ("success", ok.id, "completed"),
            ("fail", bad.id, "failed"),
            ("abort", waiting.id, "canceled"),
        ]
    )
    assert service.get_task(waiting.id).status is TaskState.CANCELED


def test_due_task_of_a_stopped_server_runs_when_it_is_back(make_runner):
    offline = make_runner(start=False)
    task = offline.submit("probe", {"delay": 0.2}).task
    wait_for(lambda: time.time() > task.execute_at + 0.3)
    service = make_runner()
    done = wait_for(lambda: finished(service, task.id))
    assert done.status is TaskState.COMPLETED and done.lateness >= 0.3


def test_graceful_stop_hands_running_tasks_back(make_runner):
    service = make_runner()
    retried = service.submit("probe", {"config": {"mode": "block"}, "max_retries": 1}).task
    failed = service.submit("probe", {"config": {"mode": "block"}}).task
    wait_for(lambda: len(Probe.started) == 2)
    service.engine.stop()
    assert service.get_task(retried.id).status is TaskState.QUEUED
    gone = service.get_task(failed.id)
    assert (gone.status, gone.error) == (TaskState.FAILED, "interrupted")
    Probe.release.set()
    again = make_runner()
    assert wait_for(lambda: finished(again, retried.id)).status is TaskState.COMPLETED


def test_expired_lease_of_another_runner_is_recovered(make_runner):
    dead = make_runner(start=False)
    store = dead.store
    task = dead.submit("probe", {"max_retries": 1}).task
    (_claimed,) = store.claim(
        "probe", "elsewhere:1:dead", 1, time.time(), time.time(), time.time() + 0.3
    )
    service = make_runner(lease=0.3)
    done = wait_for(lambda: finished(service, task.id))
    assert done.status is TaskState.COMPLETED and done.attempts == 2


def test_dead_process_of_this_host_is_recovered_at_start(make_runner):
    dead_pid = _exited_pid()
    offline = make_runner(start=False)
    task = offline.submit("probe", {}).task
    owner = f"{host_id()}:{dead_pid}:abcd"
    offline.store.claim("probe", owner, 1, time.time(), time.time(), time.time() + 3600)
    service = make_runner(lease=3600)
    done = wait_for(lambda: finished(service, task.id), timeout=5)
    assert (done.status, done.error) == (TaskState.FAILED, "interrupted")


def _exited_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_list_sees_every_state(service):
    service.submit("probe", {"delay": 60})
    page = service.list_tasks(TaskFilter(status=TaskState.SCHEDULED))
    assert len(page.tasks) == 1


def test_a_process_of_another_host_is_left_to_its_lease(make_runner):
    import socket

    offline = make_runner(start=False)
    task = offline.submit("probe", {}).task
    same_name_other_machine = f"{socket.gethostname()}/otherboot:{_exited_pid()}:abcd"
    offline.store.claim(
        "probe", same_name_other_machine, 1, time.time(), time.time(), time.time() + 3600
    )
    service = make_runner(lease=3600)
    service.engine.scheduler.tick()
    assert service.get_task(task.id).status is TaskState.RUNNING


def test_leases_are_renewed_even_with_a_long_poll_interval(make_runner):
    service = make_runner(lease=0.6, poll_interval=30.0)
    task = service.submit("probe", {"config": {"mode": "block"}}).task
    wait_for(lambda: task.id in Probe.started)
    started = time.time()
    wait_for(lambda: time.time() > started + 1.5)
    held = service.get_task(task.id)
    assert held.status is TaskState.RUNNING and held.attempts == 1
    assert held.lease_until > time.time()


def test_the_runner_prunes_finished_tasks_past_their_retention(make_runner):
    service = make_runner(retention=0.2)
    task_id = service.submit("probe", {}).task.id
    done = wait_for(lambda: finished(service, task_id))
    waiting = service.submit("probe", {"delay": 3600}).task
    wait_for(lambda: time.time() > done.finished_at + 0.3)
    make_runner(retention=0.2)  # a runner prunes on its first pass, then every minute
    wait_for(lambda: service.store.get_task(done.id) is None)
    assert service.get_task(waiting.id).status is TaskState.SCHEDULED


def test_a_runner_that_lost_its_lease_stops_the_task_and_writes_nothing(make_runner, monkeypatch):
    first = make_runner(lease=0.6)
    task = first.submit("probe", {"config": {"mode": "block"}, "max_retries": 1}).task
    wait_for(lambda: task.id in Probe.started)
    first_runner = first.engine
    written = []
    real_finish = first.store.finish
    monkeypatch.setattr(
        first.store, "finish", lambda outcomes: written.extend(outcomes) or real_finish(outcomes)
    )
    renew = first_runner.scheduler._renew
    monkeypatch.setattr(first_runner.scheduler, "_renew", lambda held, now: None)  # stalls

    second = make_runner(lease=30.0)  # takes the task over once the stalled lease expires
    taken = wait_for(lambda: (t := second.get_task(task.id)).attempts == 2 and t, timeout=10)
    assert taken.owner == second.engine.owner
    monkeypatch.setattr(first_runner.scheduler, "_renew", renew)  # the stall ends
    wait_for(lambda: first_runner.executor.running_ids() == [], timeout=5)

    Probe.release.set()
    done = wait_for(lambda: finished(second, task.id))
    assert (done.status, done.attempts) == (TaskState.COMPLETED, 2)
    assert [o for o in written if o.task_id == task.id] == []


def test_a_task_that_ended_before_a_renewal_is_not_reported_lost(service, caplog):
    # The renewal is of the ids running when the scheduler looked: one that ended since is
    # stored without its lease, which is no loss.
    task = service.submit("probe", {}).task
    wait_for(lambda: finished(service, task.id))
    scheduler = service.engine.scheduler
    with caplog.at_level("WARNING", logger="tasky.runner.scheduler"):
        scheduler._renew([task.id], time.time())
    assert "lease lost" not in caplog.text
