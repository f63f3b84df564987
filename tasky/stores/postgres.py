"""The store for many hosts: one PostgreSQL database shared by every process of every host.

Claims take due rows with ``FOR UPDATE SKIP LOCKED`` in one statement, so concurrent runners
never wait on each other nor take the same task. Statements that add due work or flag a
cancel send ``NOTIFY tasky`` in their own transaction; :meth:`PostgresStore.subscribe` turns
those into wake-ups, so no runner waits for its next poll.

Connections do not survive a fork: the connection pool and the listening thread belong to
the process that made them (checked by PID) and are made on first use, after gunicorn's
fork. The schema is migrated at construction on a short-lived connection of its own.
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
from array import array
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from tasky.errors import ScheduleNotFound, StateConflict, TaskNotFound
from tasky.models import (
    TERMINAL_STATES,
    Firing,
    LeaseReport,
    NewTask,
    Outcome,
    RunnerInfo,
    Schedule,
    SchedulePage,
    ScheduleState,
    Task,
    TaskFilter,
    TaskPage,
    TaskState,
    WorkerCounts,
)
from tasky.stores.base import Store
from tasky.stores.migrations import migrations
from tasky.stores.rows import (
    ACTIVE,
    EDITABLE,
    LIST_COLUMNS,
    RUNNER_COLUMNS,
    SCHEDULE_COLUMNS,
    SCHEDULE_FIELDS,
    TASK_COLUMNS,
    TERMINAL,
    UNFINISHED_COUNTS,
    WAITING,
    KeysetPage,
    heartbeat_sql,
    in_due_order,
    insert_rows,
    insert_task_sql,
    lease_report,
    renew_sql,
    runner_from_row,
    runner_row,
    schedule_from_row,
    schedule_params,
    sql_in,
    task_from_row,
)

logger = logging.getLogger(__name__)

CHANNEL = "tasky"
"""The LISTEN/NOTIFY channel: a notification means "look at the store again"."""
NOTIFY = f"pg_notify('{CHANNEL}', '')"
NOTIFYING = f"{TASK_COLUMNS}, {NOTIFY}"
"""RETURNING list of a statement that wakes the runners when it changes a row; the trailing
column is dropped by :func:`_row`. Notifications are sent at commit, and identical ones of a
transaction are sent once."""
MIGRATION_LOCK = 0x7461736B79
"""Key of the advisory lock that serializes migrations ("tasky" in ASCII)."""
LISTEN_POLL = 0.2
"""Seconds the listening thread waits for notifications before checking for a stop."""
TASK_FIELDS = 22


INSERT_TASK = (
    f"{insert_task_sql('%s')}"
    f" ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
)
"""The conflict target names tasks_idempotency, a unique index of the tasks that have a key."""


RENEW = renew_sql("%s")
HEARTBEAT = heartbeat_sql("%s")

FINISH = (
    f"UPDATE tasks SET"
    f" status = CASE WHEN status = 'canceling' THEN 'canceled' ELSE o.new_status END,"
    f" finished_at = CASE WHEN status = 'canceling' OR o.new_status != 'scheduled'"
    f"   THEN o.new_finished_at END,"
    f" execute_at = CASE WHEN status != 'canceling' AND o.new_status = 'scheduled'"
    f"   THEN o.retry_at ELSE execute_at END,"
    f" ran_for = ran_for + greatest(0, o.new_finished_at - started_at),"
    f" output = o.new_output, output_truncated = o.new_output_truncated,"
    f" error = o.new_error, owner = NULL, lease_until = NULL"
    f" FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::float8[],"
    f"   %s::float8[], %s::text[], %s::bool[], %s::text[])"
    f" AS o(task_id, task_owner, attempt, new_status, new_finished_at, retry_at,"
    f"   new_output, new_output_truncated, new_error)"
    f" WHERE id = o.task_id AND owner = o.task_owner AND attempts = o.attempt"
    f" AND status IN {ACTIVE}"
    f" RETURNING {TASK_COLUMNS}, CASE WHEN status = 'scheduled' THEN {NOTIFY} END"
)
"""Ends attempts, one per element of the arrays (see :func:`_outcome_columns`), fenced by
(id, owner, attempt): one statement for a whole batch of outcomes, so its cost is that of
its rows rather than of a round trip and an executor start per outcome. unnest() of array
parameters gives the planner the number of outcomes; with a row source it cannot count
(json_to_recordset: 100 rows assumed) it hash-joined against every version of the running
rows that tasks_held lists until a vacuum, slower as they piled up.
Outcome columns are named apart from the table's, which the SET and RETURNING lists read
unqualified. A retry wakes the runners."""


CLAIM = (
    f"UPDATE tasks SET status = 'running', owner = %(owner)s,"
    f" lease_until = %(lease_until)s, attempts = attempts + 1,"
    f" started_at = greatest(execute_at, %(now)s),"
    f" lateness = coalesce(lateness, greatest(execute_at, %(now)s) - execute_at),"
    f" queued_for = queued_for + greatest(execute_at, %(now)s) - execute_at"
    f" WHERE id IN (SELECT id FROM tasks WHERE worker = %(worker)s"
    f" AND status IN {WAITING} AND execute_at <= %(due_before)s"
    f" ORDER BY execute_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
    f" RETURNING {TASK_COLUMNS}"
)


NEXT_DUE = (
    f"SELECT execute_at FROM tasks WHERE worker = %s AND status IN {WAITING}"
    f" ORDER BY execute_at LIMIT 1"
)
"""When the worker's first waiting task is due. ORDER BY ... LIMIT 1 rather than min(): on
the statistics of a table that a batch just filled, the planner aggregates min() over every
waiting row of the worker instead of reading the first entry of tasks_due."""

MARK_QUEUED = (
    "UPDATE tasks SET status = 'queued' WHERE id IN (SELECT id FROM tasks"
    " WHERE worker = %s AND status = 'scheduled' AND execute_at > %s AND execute_at <= %s"
    " FOR UPDATE SKIP LOCKED)"
)
"""Scheduled tasks of a worker that came due, found through tasks_scheduled without reading
the queued rows due in the same span. Rows another runner holds are skipped, not waited
for: that runner is claiming them or marking them too."""


def _check(conn: psycopg.Connection) -> None:
    """Vet a pooled connection before use, at the cost of a system call: an idle connection
    with bytes to read means the server hung up (restart, failover, terminated backend);
    only then a round trip decides, and the pool replaces the connection if it is gone."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


def _row(row: tuple) -> Task:
    return task_from_row(row[:TASK_FIELDS])


def _outcome_columns(outcomes: list[Outcome]) -> list[list]:
    """The parameters of FINISH: one list per column, one element per outcome."""
    return [
        list(column)
        for column in zip(
            *[
                (
                    o.task_id,
                    o.owner,
                    o.attempt,
                    o.status.value,
                    o.finished_at,
                    o.retry_at,
                    o.output_json,
                    o.output_truncated,
                    o.error,
                )
                for o in outcomes
            ]
        )
    ]


def _in_order_of(outcomes: list[Outcome], finished: list[Task]) -> list[Task]:
    """The finished tasks in the order of their outcomes (RETURNING follows no order), each
    matched by its attempt too, so that a stale outcome of a finished task is left out."""
    by_attempt = {(task.id, task.attempts): task for task in finished}
    return [
        by_attempt[key] for key in ((o.task_id, o.attempt) for o in outcomes) if key in by_attempt
    ]


class PostgresStore(Store):
    kind = "postgresql"
    outage_errors = (psycopg.OperationalError, psycopg_pool.PoolTimeout)

    def __init__(self, url: str, pool_size: int = 10):
        self.url = url
        self.pool_size = pool_size
        self._kwargs: dict[str, Any] = {"autocommit": True}
        params = conninfo_to_dict(url)
        if "connect_timeout" not in params:
            self._kwargs["connect_timeout"] = 10
        if "application_name" not in params:
            self._kwargs["application_name"] = "tasky"
        # Keyed by PID: what a parent process made stays untouched (and unused) in its child.
        self._pools: dict[int, ConnectionPool] = {}
        self._listeners: dict[int, _Listener] = {}
        self._migrate()

    # -- connections ------------------------------------------------------------------------

    def _pool(self) -> ConnectionPool:
        pid = os.getpid()
        pool = self._pools.get(pid)
        if pool is None:
            pool = ConnectionPool(
                self.url,
                kwargs=self._kwargs,
                min_size=1,
                max_size=self.pool_size,
                timeout=10.0,
                check=_check,
                open=True,
                name=f"tasky-{pid}",
            )
            kept = self._pools.setdefault(pid, pool)
            if kept is not pool:  # another thread of this process won the race
                pool.close()
            pool = kept
        return pool

    @contextmanager
    def _db(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit: each statement is its own transaction."""
        with self._pool().connection() as conn:
            yield conn

    def _fetch(self, sql: str, params: Any = ()) -> list[tuple]:
        """All rows of one query."""
        with self._db() as db:
            return db.execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction, committed on a normal exit."""
        with self._pool().connection() as conn, conn.transaction():
            yield conn

    def _migrate(self) -> None:
        """Apply the numbered files of ``schema/postgresql`` above the version recorded in
        ``schema_version``, in one transaction under an advisory lock, so processes that
        start together take turns and only the first one changes anything."""
        wanted = migrations("postgresql")
        with psycopg.connect(self.url, **self._kwargs) as conn:
            if self._schema_version(conn) >= wanted[-1][0]:
                return
            with conn.transaction():
                conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version integer PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                version = self._schema_version(conn)
                for number, sql in wanted:
                    if number > version:
                        conn.execute(sql)
                        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
                        logger.info("database schema migrated to version %d", number)

    @staticmethod
    def _schema_version(conn: psycopg.Connection) -> int:
        if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    def close(self) -> None:
        pid = os.getpid()
        listener = self._listeners.pop(pid, None)
        if listener is not None:
            listener.stop()
        pool = self._pools.pop(pid, None)
        if pool is not None:
            pool.close()

    def ping(self) -> None:
        with self._db() as db:
            db.execute("SELECT 1").fetchone()

    def subscribe(self, on_change: Callable[[], None]) -> None:
        pid = os.getpid()
        listener = self._listeners.get(pid)
        if listener is not None:
            listener.callbacks.append(on_change)
            return
        fresh = _Listener(self.url, self._kwargs, [on_change])
        listener = self._listeners.setdefault(pid, fresh)
        if listener is fresh:
            listener.start()
        else:  # another thread of this process started one meanwhile
            listener.callbacks.append(on_change)

    # -- submitting and reading -------------------------------------------------------------

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        if not tasks:
            return []
        with self._write() as db:
            if all(new.idempotency_key is None for new in tasks):
                db.cursor().executemany(INSERT_TASK, insert_rows(tasks))
                db.execute(f"SELECT {NOTIFY}")
                return [(new.as_task(), True) for new in tasks]
            cur = db.cursor()
            cur.executemany(
                f"{INSERT_TASK} RETURNING {TASK_COLUMNS}", insert_rows(tasks), returning=True
            )
            rows = [cur.fetchone()]
            while cur.nextset():
                rows.append(cur.fetchone())
            results = [
                (task_from_row(row), True)
                if row is not None
                else (self._by_idempotency_key(db, new.idempotency_key), False)
                for new, row in zip(tasks, rows, strict=True)
            ]
            if any(created for _, created in results):
                db.execute(f"SELECT {NOTIFY}")
        return results

    @staticmethod
    def _insert_task(db: psycopg.Connection, new: NewTask) -> Task:
        row = db.execute(
            f"{INSERT_TASK} RETURNING {TASK_COLUMNS}", insert_rows([new])[0]
        ).fetchone()
        return (
            PostgresStore._by_idempotency_key(db, new.idempotency_key)
            if row is None
            else task_from_row(row)
        )

    @staticmethod
    def _by_idempotency_key(db: psycopg.Connection, key: str) -> Task:
        return task_from_row(
            db.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE idempotency_key = %s", (key,)
            ).fetchone()
        )

    def get_task(self, task_id: str) -> Task | None:
        with self._db() as db:
            row = db.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s", (task_id,)
            ).fetchone()
        return None if row is None else task_from_row(row)

    def list_tasks(self, filters: TaskFilter, limit: int, cursor: str | None) -> TaskPage:
        page = KeysetPage.of(
            LIST_COLUMNS,
            "tasks",
            {
                "status": filters.status,
                "worker": filters.worker,
                "schedule_id": filters.schedule_id,
            },
            cursor,
            limit,
            "%s",
        )
        return TaskPage(*page.read(self._fetch(page.sql, page.params), task_from_row))

    def worker_counts(self, worker: str) -> WorkerCounts:
        with self._db() as db:
            by_status = dict(
                db.execute(
                    "SELECT status, count(*) FROM tasks WHERE worker = %s GROUP BY status",
                    (worker,),
                ).fetchall()
            )
            durations = array(
                "d",
                (
                    r[0]
                    for r in db.execute(
                        "SELECT ran_for FROM tasks WHERE worker = %s AND status IN ('completed', 'failed')"
                        " ORDER BY ran_for",
                        (worker,),
                    )
                ),
            )
            last = db.execute(
                f"SELECT max(finished_at) FROM tasks WHERE worker = %s AND status IN {TERMINAL}",
                (worker,),
            ).fetchone()[0]
        return WorkerCounts(by_status, durations, last)

    def unfinished_counts(self) -> list[tuple[str, str, int]]:
        with self._db() as db:
            return [tuple(row) for row in db.execute(UNFINISHED_COUNTS)]

    # -- the runner's side ------------------------------------------------------------------

    def next_due_at(self, worker: str) -> float | None:
        with self._db() as db:
            row = db.execute(NEXT_DUE, (worker,)).fetchone()
        return None if row is None else row[0]

    def claim(self, worker, owner, limit, due_before, now, lease_until) -> list[Task]:
        with self._db() as db:
            rows = db.execute(
                CLAIM,
                {
                    "owner": owner,
                    "lease_until": lease_until,
                    "now": now,
                    "worker": worker,
                    "due_before": due_before,
                    "limit": limit,
                },
            ).fetchall()
        return in_due_order(task_from_row(row) for row in rows)

    def mark_queued(self, worker: str, due_after: float, now: float) -> None:
        with self._db() as db:
            db.execute(MARK_QUEUED, (worker, due_after, now))

    def renew_leases(self, owner: str, lease_until: float, held: Collection[str]) -> LeaseReport:
        return lease_report(held, self._fetch(RENEW, (lease_until, owner)))

    def canceling_ids(self, owner: str) -> list[str]:
        with self._db() as db:
            return [
                r[0]
                for r in db.execute(
                    "SELECT id FROM tasks WHERE owner = %s AND status = 'canceling' ORDER BY id",
                    (owner,),
                )
            ]

    def finish(self, outcomes: list[Outcome]) -> list[Task]:
        if not outcomes:
            return []
        with self._db() as db:
            rows = db.execute(FINISH, _outcome_columns(outcomes)).fetchall()
        return _in_order_of(outcomes, [_row(row) for row in rows])

    def recover(self, now: float, owner: str | None = None) -> list[Task]:
        # Every runner reaps expired leases every second: rows that another one is reaping
        # (or their late owner finishing) are skipped rather than waited for. An owner handing
        # its own tasks back waits, so that none is left behind.
        held_by = (
            f"owner = %(owner)s AND status IN {ACTIVE}"
            if owner is not None
            else f"id IN (SELECT id FROM tasks WHERE status IN {ACTIVE}"
            f" AND lease_until < %(now)s FOR UPDATE SKIP LOCKED)"
        )
        with self._db() as db:
            rows = db.execute(
                f"UPDATE tasks SET"
                f" status = CASE WHEN status = 'canceling' THEN 'canceled'"
                f"   WHEN attempts <= max_retries THEN 'queued' ELSE 'failed' END,"
                f" finished_at = CASE WHEN status != 'canceling' AND attempts <= max_retries"
                f"   THEN NULL ELSE %(now)s END,"
                f" execute_at = CASE WHEN status != 'canceling' AND attempts <= max_retries"
                f"   THEN %(now)s ELSE execute_at END,"
                f" error = CASE WHEN status = 'canceling' THEN error ELSE 'interrupted' END,"
                f" ran_for = ran_for"
                f"   + greatest(0, least(%(now)s, coalesce(lease_until, %(now)s)) - started_at),"
                f" owner = NULL, lease_until = NULL"
                f" WHERE {held_by} RETURNING {NOTIFYING}",
                {"now": now, "owner": owner},
            ).fetchall()
        return [_row(row) for row in rows]

    def owners(self) -> set[str]:
        with self._db() as db:
            return {
                r[0]
                for r in db.execute(f"SELECT DISTINCT owner FROM tasks WHERE status IN {ACTIVE}")
            }

    def prune(self, finished_before: float) -> int:
        with self._db() as db:
            return db.execute(
                f"DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE"
                f" finished_at < %s AND status IN {TERMINAL}"
                f" FOR UPDATE SKIP LOCKED)",
                (finished_before,),
            ).rowcount

    # -- transitions asked for by clients -------------------------------------------------

    def _transition(
        self,
        task_id: str,
        allowed: str,
        assignments: str,
        params: dict[str, Any],
        notify: bool = False,
    ) -> Task:
        """One conditional UPDATE; when it matches nothing, tell a missing task from a task in
        the wrong state."""
        returning = NOTIFYING if notify else TASK_COLUMNS
        with self._db() as db:
            row = db.execute(
                f"UPDATE tasks SET {assignments} WHERE id = %(id)s AND status IN {allowed}"
                f" RETURNING {returning}",
                {**params, "id": task_id},
            ).fetchone()
            if row is not None:
                return _row(row)
            current = db.execute("SELECT status FROM tasks WHERE id = %s", (task_id,)).fetchone()
        if current is None:
            raise TaskNotFound(f"no task {task_id!r}")
        raise StateConflict(f"task is {current[0]}")

    def cancel(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id,
            sql_in(set(TaskState) - TERMINAL_STATES),
            f"status = CASE WHEN status IN {ACTIVE} THEN 'canceling' ELSE 'canceled' END,"
            f" finished_at = CASE WHEN status IN {ACTIVE} THEN NULL ELSE %(now)s END",
            {"now": now},
            notify=True,
        )

    def update_waiting(self, task_id: str, changes: dict[str, Any], now: float) -> Task:
        columns = {"config", "execute_at", "timeout", "max_retries", "retry_backoff"}
        unknown = set(changes) - columns
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        params = {k: json.dumps(v) if k == "config" else v for k, v in changes.items()}
        assignments = [f"{column} = %({column})s" for column in changes]
        due = "%(execute_at)s" if "execute_at" in changes else "execute_at"
        assignments.append(
            f"status = CASE WHEN status = 'paused' THEN 'paused'"
            f" WHEN {due} <= %(now)s THEN 'queued' ELSE 'scheduled' END"
        )
        return self._transition(
            task_id, EDITABLE, ", ".join(assignments), {**params, "now": now}, notify=True
        )

    def pause(self, task_id: str) -> Task:
        return self._transition(task_id, WAITING, "status = 'paused'", {})

    def resume(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id,
            "('paused')",
            "status = CASE WHEN execute_at <= %(now)s THEN 'queued' ELSE 'scheduled' END",
            {"now": now},
            notify=True,
        )

    def run_now(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id, EDITABLE, "status = 'queued', execute_at = %(now)s", {"now": now}, notify=True
        )

    def delete_task(self, task_id: str) -> None:
        with self._db() as db:
            deleted = db.execute(
                f"DELETE FROM tasks WHERE id = %s AND status IN {TERMINAL}", (task_id,)
            ).rowcount
            if deleted:
                return
            current = db.execute("SELECT status FROM tasks WHERE id = %s", (task_id,)).fetchone()
        if current is None:
            raise TaskNotFound(f"no task {task_id!r}")
        raise StateConflict(f"task is {current[0]}; only a finished task can be deleted")

    # -- schedules ------------------------------------------------------------------------------

    def create_schedule(self, schedule: Schedule) -> Schedule:
        fields = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}
        params = {**schedule_params(fields), "id": schedule.id, "created_at": schedule.created_at}
        columns = ", ".join(params)
        values = ", ".join(f"%({c})s" for c in params)
        with self._write() as db:
            row = db.execute(
                f"INSERT INTO schedules ({columns}) VALUES ({values}) RETURNING {SCHEDULE_COLUMNS}",
                params,
            ).fetchone()
            db.execute(f"SELECT {NOTIFY}")
        return schedule_from_row(row)

    def get_schedule(self, schedule_id: str) -> Schedule | None:
        with self._db() as db:
            row = db.execute(
                f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = %s", (schedule_id,)
            ).fetchone()
        return None if row is None else schedule_from_row(row)

    def list_schedules(self, limit: int, cursor: str | None) -> SchedulePage:
        page = KeysetPage.of(SCHEDULE_COLUMNS, "schedules", {}, cursor, limit, "%s")
        return SchedulePage(*page.read(self._fetch(page.sql, page.params), schedule_from_row))

    def update_schedule(
        self, schedule_id: str, changes: dict[str, Any], expect_status: ScheduleState | None = None
    ) -> Schedule:
        unknown = set(changes) - SCHEDULE_FIELDS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        params = schedule_params(changes)
        assignments = ", ".join(f"{column} = %({column})s" for column in params) or "id = id"
        condition = "" if expect_status is None else " AND status = %(expect_status)s"
        with self._write() as db:
            row = db.execute(
                f"UPDATE schedules SET {assignments} WHERE id = %(id)s{condition}"
                f" RETURNING {SCHEDULE_COLUMNS}",
                {**params, "id": schedule_id, "expect_status": str(expect_status)},
            ).fetchone()
            if row is not None:
                db.execute(f"SELECT {NOTIFY}")
                return schedule_from_row(row)
        current = self.get_schedule(schedule_id)
        if current is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        raise StateConflict(f"schedule is {current.status}")

    def delete_schedule(self, schedule_id: str, now: float) -> list[Task]:
        with self._write() as db:
            if not db.execute("DELETE FROM schedules WHERE id = %s", (schedule_id,)).rowcount:
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            rows = db.execute(
                f"UPDATE tasks SET status = 'canceled', finished_at = %s WHERE schedule_id = %s"
                f" AND status IN {EDITABLE} RETURNING {TASK_COLUMNS}",
                (now, schedule_id),
            ).fetchall()
        return [task_from_row(row) for row in rows]

    def next_schedule_due_at(self) -> float | None:
        with self._db() as db:
            return db.execute(
                "SELECT min(next_run_at) FROM schedules WHERE status = 'active'"
            ).fetchone()[0]

    def due_schedules(self, due_before: float, limit: int) -> list[Schedule]:
        with self._db() as db:
            rows = db.execute(
                f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE status = 'active'"
                f" AND next_run_at <= %s ORDER BY next_run_at LIMIT %s",
                (due_before, limit),
            ).fetchall()
        return [schedule_from_row(row) for row in rows]

    def fire_schedule(
        self,
        schedule_id: str,
        due_at: float,
        next_run_at: float | None,
        task: NewTask | None,
        now: float,
        skip_if_running: bool,
    ) -> Firing:
        with self._write() as db:
            # Concurrent callers queue on the row lock; once the winner commits, the others'
            # condition no longer holds (next_run_at moved on) and they update nothing.
            won = db.execute(
                "UPDATE schedules SET next_run_at = %s WHERE id = %s AND status = 'active'"
                " AND next_run_at = %s",
                (next_run_at, schedule_id, due_at),
            ).rowcount
            if not won:
                return Firing(False)
            db.execute(f"SELECT {NOTIFY}")
            if task is None or (skip_if_running and self._last_run_unfinished(db, schedule_id)):
                return Firing(True)
            created = self._record_run(db, schedule_id, task, now)
        return Firing(True, created)

    def run_schedule_now(self, schedule_id: str, task: NewTask, now: float) -> Task:
        with self._write() as db:
            # The row lock keeps a concurrent delete from leaving a run of a gone schedule.
            if (
                db.execute(
                    "SELECT 1 FROM schedules WHERE id = %s FOR UPDATE", (schedule_id,)
                ).fetchone()
                is None
            ):
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            created = self._record_run(db, schedule_id, task, now)
            db.execute(f"SELECT {NOTIFY}")
            return created

    @staticmethod
    def _record_run(db: psycopg.Connection, schedule_id: str, task: NewTask, now: float) -> Task:
        created = PostgresStore._insert_task(db, task)
        db.execute(
            "UPDATE schedules SET runs = runs + 1, last_run_at = %s, last_task_id = %s"
            " WHERE id = %s",
            (now, created.id, schedule_id),
        )
        return created

    @staticmethod
    def _last_run_unfinished(db: psycopg.Connection, schedule_id: str) -> bool:
        row = db.execute(
            f"SELECT 1 FROM schedules s JOIN tasks t ON t.id = s.last_task_id"
            f" WHERE s.id = %s AND t.status NOT IN {TERMINAL}",
            (schedule_id,),
        ).fetchone()
        return row is not None

    # -- runners ------------------------------------------------------------------------------

    def record_heartbeat(self, runner: RunnerInfo) -> None:
        with self._db() as db:
            db.execute(HEARTBEAT, runner_row(runner))

    def remove_runner(self, runner_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM runners WHERE id = %s", (runner_id,))

    def list_runners(self) -> list[RunnerInfo]:
        rows = self._fetch(f"SELECT {RUNNER_COLUMNS} FROM runners ORDER BY host, pid")
        return [runner_from_row(row) for row in rows]

    def forget_runners(self, heartbeat_before: float) -> int:
        with self._db() as db:
            return db.execute(
                "DELETE FROM runners WHERE heartbeat_at < %s", (heartbeat_before,)
            ).rowcount


class _Listener(threading.Thread):
    """LISTENs on its own connection (not a pooled one: it never gives it back) and calls
    every callback on each notification. After a lost connection it reconnects with backoff
    and calls the callbacks once, for what it may have missed."""

    def __init__(self, url: str, kwargs: dict[str, Any], callbacks: list[Callable[[], None]]):
        super().__init__(name="tasky-listen", daemon=True)
        self.url = url
        self.kwargs = kwargs
        self.callbacks = callbacks
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        if self.ident is not None:
            self.join(5)

    def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, **self.kwargs) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    backoff = 0.1
                    self._call()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=LISTEN_POLL):
                            self._call()
            except Exception as exc:
                logger.warning("LISTEN %s lost (%s); reconnecting in %.1f s", CHANNEL, exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _call(self) -> None:
        for callback in list(self.callbacks):
            try:
                callback()
            except Exception:
                logger.exception("store change callback failed")
