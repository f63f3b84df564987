"""What only the PostgreSQL store does: notifications, migrations by processes starting
together, connections that do not cross a fork. The shared behaviour is the contract suite."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tasky.config import Settings
from tasky.ids import new_id
from tasky.models import NewTask, Outcome, Schedule, ScheduleState, TaskFilter, TaskState
from tasky.registry import Registry
from tasky.runner import executor as executor_module
from tasky.runner.executor import Executor
from tasky.runner.scheduler import CLAIM_AHEAD, MARK_QUEUED_EVERY, Scheduler
from tasky.stores.migrations import migrations
from tasky.stores.postgres import COPY_FROM, MARK_QUEUED, NEXT_DUE, PostgresStore
from tasky.worker import Worker
from tests.support import wait_for

T0 = 1_800_000_000.0


def new(execute_at=T0, **kw) -> NewTask:
    return NewTask(
        id=new_id(T0), worker="echo", config={}, execute_at=execute_at, created_at=T0, **kw
    )


@pytest.fixture
def store(postgres_url):
    store = PostgresStore(postgres_url)
    yield store
    store.close()


@pytest.fixture
def woken(store):
    """An event the store sets on every notification, cleared once the listener is up."""
    event = threading.Event()
    store.subscribe(event.set)
    assert event.wait(5), "the listener never connected"
    event.clear()
    return event


def expect_wake(event: threading.Event) -> None:
    assert event.wait(2), "no notification"
    event.clear()


def test_changes_that_make_work_due_or_flag_a_cancel_wake_the_runners(store, woken):
    (waiting,) = [t for t, _ in store.create_tasks([new(execute_at=T0 + 60, max_retries=1)])]
    expect_wake(woken)
    store.pause(waiting.id)
    store.resume(waiting.id, T0)
    expect_wake(woken)
    store.update_waiting(waiting.id, {"execute_at": T0}, T0)
    expect_wake(woken)
    store.run_now(waiting.id, T0)
    expect_wake(woken)
    (task,) = store.claim("echo", "a", 1, T0, T0, T0 + 30)
    assert not woken.wait(0.3), "a claim needs to wake nobody"
    store.finish([Outcome(task.id, "a", 1, TaskState.FAILED, T0 + 1, retry_at=T0 + 2)])
    expect_wake(woken)
    (task,) = store.claim("echo", "a", 1, T0 + 2, T0 + 2, T0 + 30)
    store.cancel(task.id, T0 + 2)
    expect_wake(woken)
    store.finish([Outcome(task.id, "a", 2, TaskState.COMPLETED, T0 + 3)])
    assert not woken.wait(0.3), "a finish without a retry needs to wake nobody"
    store.create_tasks([new(max_retries=1)])
    expect_wake(woken)
    store.claim("echo", "a", 1, T0, T0, T0 + 1)
    assert [t.status for t in store.recover(T0 + 4)] == [TaskState.QUEUED]
    expect_wake(woken)


def test_schedule_ticks_wake_the_runners(store, woken):
    s = store.create_schedule(
        Schedule(
            id=new_id(T0),
            worker="echo",
            config={},
            cron=None,
            interval=10.0,
            timezone="UTC",
            status=ScheduleState.ACTIVE,
            next_run_at=T0 + 10,
            created_at=T0,
        )
    )
    expect_wake(woken)
    run = NewTask(
        id=new_id(T0 + 10),
        worker="echo",
        config={},
        execute_at=T0 + 10,
        created_at=T0 + 9.9,
        schedule_id=s.id,
    )
    assert store.fire_schedule(s.id, T0 + 10, T0 + 20, run, T0 + 9.9, False).won
    expect_wake(woken)
    store.run_schedule_now(s.id, new(schedule_id=s.id), T0)
    expect_wake(woken)


def test_listener_comes_back_after_losing_its_connection(store, woken, postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN tasky'"
        ).fetchall()
        assert (True,) in killed
    expect_wake(woken)  # reconnected: told to look, since it may have missed news
    store.create_tasks([new()])
    expect_wake(woken)


def test_processes_starting_together_migrate_once(postgres_server):
    url = postgres_server.create_database()
    barrier = threading.Barrier(6)
    errors = []

    def start():
        barrier.wait()
        try:
            PostgresStore(url).close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [number for number, _ in migrations("postgresql")]
    postgres_server.drop_database(url)


def test_pooled_connections_the_server_dropped_are_replaced_unnoticed(store, postgres_url):
    store.create_tasks([new()])
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        others = (
            "FROM pg_stat_activity WHERE datname = current_database() AND pid != pg_backend_pid()"
        )
        admin.execute(f"SELECT pg_terminate_backend(pid) {others}")
        wait_for(lambda: admin.execute(f"SELECT count(*) {others}").fetchone()[0] == 0)
    # The pooled connection learns of it only when vetted before its next use.
    assert len(store.list_tasks(TaskFilter(), 10, None).tasks) == 1


def _plan_nodes(conn: psycopg.Connection, sql: str, params: tuple) -> list[dict]:
    """Every node of the executed plan of ``sql`` (rolled back)."""
    with conn.transaction(force_rollback=True):
        (plan,) = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()[0]
    nodes, todo = [], [plan["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo += node.get("Plans", [])
    return nodes


def test_runner_lookups_read_a_few_rows_among_many_queued_ones(store, postgres_url):
    """A batch just inserted (not yet analyzed) must not make each next_due_at or
    mark_queued read every queued row of the worker."""
    store.create_tasks([new() for _ in range(2000)])
    store.create_tasks([new(execute_at=T0 + 1)])  # scheduled, due within the span below
    with psycopg.connect(postgres_url) as conn:
        for sql, params in ((NEXT_DUE, ("echo",)), (MARK_QUEUED, ("echo", T0 - 1, T0 + 2))):
            for node in _plan_nodes(conn, sql, params):
                assert node["Actual Rows"] <= 1, (sql, node)
                assert node.get("Rows Removed by Filter", 0) == 0, (sql, node)
    assert store.next_due_at("echo") == T0
    store.mark_queued("echo", T0 - 1, T0 + 2)
    assert store.list_tasks(TaskFilter(status=TaskState.SCHEDULED), 10, None).tasks == []


def test_outcomes_are_stored_exactly_as_given(store, postgres_url):
    """Outcomes travel as arrays: outputs and errors with quotes, backslashes and any
    character, and instants to the last bit, are stored unchanged."""
    store.create_tasks([new(max_retries=1), new(max_retries=1)])
    retried, done = store.claim("echo", "a", 2, T0, T0, T0 + 30)
    output = '{"say": "\\"h\u00e9\\" \\\\ \u2603\\n", "n": 1e-300}'
    error = 'it\'s "bad" \\ \u00e9\n'
    at = T0 + 0.1 + 2**-30
    store.finish(
        [
            Outcome(retried.id, "a", 1, TaskState.FAILED, at, error=error, retry_at=at + 1 / 3),
            Outcome(
                done.id, "a", 1, TaskState.COMPLETED, at, output_json=output, output_truncated=True
            ),
        ]
    )
    with psycopg.connect(postgres_url) as conn:
        stored = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, status, error, execute_at, finished_at, output, output_truncated"
                " FROM tasks"
            )
        }
    assert stored[retried.id] == ("scheduled", error, at + 1 / 3, None, None, False)
    assert stored[done.id] == ("completed", None, T0, at, output, True)


@pytest.mark.parametrize("size", [COPY_FROM - 1, COPY_FROM])
def test_a_batch_is_stored_exactly_as_given_below_and_from_the_copy_size(store, size):
    """From ``COPY_FROM`` tasks a batch is streamed with COPY: configs with tabs, newlines,
    backslashes and any character, instants to the last bit, every field, as one INSERT
    per task stores them."""
    config = {"text": 'tab\there\nnew line \\ "quoted" \u00e9 \u2603', "n": [1e-300, None]}
    batch = [
        NewTask(
            id=new_id(T0),
            worker="echo",
            config={**config, "i": i},
            execute_at=T0 + i + 2**-30,
            created_at=T0 + 1 / 3,
            timeout=None if i % 2 else 1.5,
            max_retries=i % 3,
            retry_backoff=0.25,
        )
        for i in range(size)
    ]
    answered = store.create_tasks(batch)
    assert answered == [(task.as_task(), True) for task in batch]
    assert [store.get_task(task.id) for task in batch] == [task for task, _ in answered]


def test_a_burst_into_an_emptied_table_refreshes_the_planners_estimate(store, postgres_url):
    """Old tasks pruned and the table analyzed: a batch bigger than the estimate runs ANALYZE,
    so that finding its rows by id goes through the primary key, not a scan of another index
    per row (which made reaping 10,000 leases take 20 s)."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE tasks SET (autovacuum_enabled = false)")
        conn.execute("ANALYZE tasks")

        def estimate() -> float:
            return conn.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'tasks'::regclass"
            ).fetchone()[0]

        assert estimate() == 0
        store.create_tasks([new() for _ in range(COPY_FROM * 5)])
        assert estimate() == COPY_FROM * 5
        plan = conn.execute(
            "EXPLAIN SELECT 1 FROM tasks WHERE id IN (SELECT id FROM tasks WHERE status = 'queued')"
        ).fetchall()
        assert "tasks_by_worker" not in str(plan)
        store.create_tasks([new() for _ in range(COPY_FROM)])  # within the estimate: no ANALYZE
        assert estimate() == COPY_FROM * 5


def test_idempotency_keys_stay_unique_across_the_migration_to_a_partial_index(postgres_server):
    """A database made before tasks_idempotency keeps its keys unique once migrated, and
    tasks without a key are not in the index."""
    url = postgres_server.create_database()
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for number, sql in migrations("postgresql"):
            if number <= 3:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
    store = PostgresStore(url)
    try:
        ((first, created),) = store.create_tasks([new(idempotency_key="k")])
        store.create_tasks([new() for _ in range(3)])
        ((again, created_again),) = store.create_tasks([new(idempotency_key="k")])
        assert created and not created_again and again.id == first.id
        with psycopg.connect(url) as conn:
            definition = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'tasks_idempotency'"
            ).fetchone()[0]
            constraints = conn.execute(
                "SELECT count(*) FROM pg_constraint WHERE conrelid ="
                " 'tasks'::regclass AND contype = 'u'"
            ).fetchone()[0]
        assert "UNIQUE" in definition and "WHERE (idempotency_key IS NOT NULL)" in definition
        assert constraints == 0
    finally:
        store.close()
        postgres_server.drop_database(url)


class _Quick(Worker):
    name = "quick"
    max_num_tasks = 1

    def perform(self, config, ctx):
        return None


class _CountingStore(PostgresStore):
    """The real store, counting the runner's "when is the next task due" lookups and its
    passes marking due tasks queued."""

    lookups = marks = 0

    def next_due_at(self, worker):
        self.lookups += 1
        return super().next_due_at(worker)

    def mark_queued(self, worker, due_after, now):
        self.marks += 1
        super().mark_queued(worker, due_after, now)


def test_a_backlogged_runner_claims_as_slots_free_without_looking_up_due_times(
    postgres_url, monkeypatch
):
    monkeypatch.setattr(executor_module, "QUEUE_UNDER", 0.0)  # no attempt is quick: no queue
    settings = Settings(database_url=postgres_url, poll_interval=3600.0)
    store = _CountingStore(postgres_url)
    registry = Registry(settings, [_Quick])
    executor = Executor(settings, store, registry, "me", on_slot_free=lambda worker: None)
    clock = [time.time()]
    scheduler = Scheduler(settings, store, registry, executor, "me", clock=lambda: clock[0])
    now = clock[0]
    later = now + 600
    store.create_tasks(
        [
            NewTask(id=new_id(now), worker="quick", config={}, execute_at=at, created_at=now)
            for at in (now, now, now, later)
        ]
    )
    try:
        lookups, marks = [], []
        for step in range(3):  # one slot: each tick claims one due task, then waits for it
            clock[0] += 2 * MARK_QUEUED_EVERY if step == 2 else 0.0
            scheduler.wake("quick")
            scheduler.tick()
            lookups.append(store.lookups)
            marks.append(store.marks)
            wait_for(lambda: executor.room("quick") == 1)
        assert lookups == [1, 1, 1], "while backlogged, a freed slot is filled at once"
        assert marks == [1, 1, 2], "due tasks are marked queued once per MARK_QUEUED_EVERY"
        scheduler.wake("quick")
        assert scheduler.tick() <= clock[0], "the backlog is gone: look again at once"
        assert store.lookups == 1
        scheduler.wake("quick")
        assert scheduler.tick() == pytest.approx(later - CLAIM_AHEAD)
        assert store.lookups == 2
        wait_for(lambda: store.worker_counts("quick").by_status.get("completed") == 3)
    finally:
        executor.shutdown(1.0)
        store.close()
