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

import logging
import os
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from tasky.models import NewTask, Outcome, Task
from tasky.stores.dialect import Dialect
from tasky.stores.migrations import migrations
from tasky.stores.rows import (
    INSERT_COLUMNS,
    OUTCOME_COLUMNS,
    TASK_COLUMNS,
    WAITING,
    Columns,
    finish_sql,
    in_due_order,
    in_order_of,
    insert_rows,
    outcome_row,
    task_from_row,
)
from tasky.stores.sql import Changed, SQLStore

logger = logging.getLogger(__name__)

CHANNEL = "tasky"
"""The LISTEN/NOTIFY channel: a notification means "look at the store again"."""
NOTIFY = f"pg_notify('{CHANNEL}', '')"
"""Wakes the runners: notifications are sent at commit, and identical ones of a transaction
are sent once."""
DIALECT = Dialect(
    qmark=False,
    greatest="greatest",
    least="least",
    key_conflict="(idempotency_key) WHERE idempotency_key IS NOT NULL",
    notify=NOTIFY,
    lock_row=" FOR UPDATE",
    skip_locked=True,
)
"""PostgreSQL's side of the shared statements. The idempotency conflict target names
tasks_idempotency, a partial unique index (of the tasks that have a key)."""
MIGRATION_LOCK = 0x7461736B79
"""Key of the advisory lock that serializes migrations ("tasky" in ASCII)."""
LISTEN_POLL = 0.2
"""Seconds the listening thread waits for notifications before checking for a stop."""
INSERT_TASK = DIALECT.insert_task
COPY_TASKS = f"COPY tasks ({INSERT_COLUMNS}) FROM STDIN"
COPY_FROM = 100
"""Tasks from which a batch without idempotency keys (nothing to skip) is inserted with
``COPY_TASKS``, one stream of rows: for 10,000 tasks a half to a third of the time of
``executemany`` of ``INSERT_TASK``, which runs one statement per row. Below, COPY's extra
round trip costs more than it saves (one task: about a tenth slower)."""
SNAPSHOT_FETCH = 1000
"""Rows a snapshot's cursor fetches per round trip: what an export holds at a time. With
5,000, the exporting process grew by 30 MB over an export of 100,000 tasks, and by 20 MB
with 1,000, at the same rate."""

FINISH = (
    finish_sql(
        "unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::float8[],"
        f" %s::float8[], %s::text[], %s::bool[], %s::text[]) AS o({OUTCOME_COLUMNS})",
        DIALECT.greatest,
    )
    + f" RETURNING {TASK_COLUMNS}, CASE WHEN status = 'scheduled' THEN {NOTIFY} END"
)
"""Ends attempts, one per element of the arrays (see :func:`_outcome_columns`), fenced by
(id, owner, attempt): one statement for a whole batch of outcomes, so its cost is that of
its rows rather than of a round trip and an executor start per outcome. unnest() of array
parameters gives the planner the number of outcomes; with a row source it cannot count
(json_to_recordset: 100 rows assumed) it hash-joined against every version of the running
rows that tasks_held lists until a vacuum, slower as they piled up.
A retry wakes the runners."""


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


def _insert(db: psycopg.Connection, tasks: list[NewTask]) -> None:
    """Insert new tasks that have no idempotency key, in ``db``'s transaction."""
    rows = insert_rows(tasks)
    if len(rows) < COPY_FROM:
        db.cursor().executemany(INSERT_TASK, rows)
        return
    with db.cursor().copy(COPY_TASKS) as copy:
        for row in rows:
            copy.write_row(row)


def _outcome_columns(outcomes: list[Outcome]) -> list[list]:
    """The parameters of FINISH: one list per column of ``outcome_row``, one element per
    outcome."""
    return [list(column) for column in zip(*map(outcome_row, outcomes), strict=True)]


def _streamed(conn: psycopg.Connection, sql: str) -> Iterator[tuple]:
    """The rows of a query, fetched from a server-side cursor a few thousand at a time."""
    with conn.cursor(name=f"tasky_snapshot_{os.urandom(4).hex()}") as cursor:
        cursor.itersize = SNAPSHOT_FETCH
        cursor.execute(sql)
        yield from cursor


class PostgresStore(SQLStore):
    kind = "postgresql"
    dialect = DIALECT
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

    @contextmanager
    def _snapshot_connection(self) -> Iterator[Callable[[str], Iterator[tuple]]]:
        """A connection outside the pool (a long read must not hold one of its few), in one
        ``REPEATABLE READ READ ONLY`` transaction, read through server-side cursors."""
        with psycopg.connect(self.url, **self._kwargs) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield lambda sql: _streamed(conn, sql)

    def _insert_new(
        self, db: psycopg.Connection, table: str, columns: Columns, rows: list[tuple]
    ) -> set[str]:
        """The restore's insert, through ``COPY`` into a temporary table of the same columns,
        then one ``INSERT ... SELECT`` in the rows' order. The shared multi-row ``INSERT``
        has 11,000 parameters a statement, which psycopg parses in Python on each execution
        (too long for its cache of parsed queries): four fifths of an import's time. The
        temporary table goes with the transaction (``ON COMMIT DROP``), committed or not."""
        staging = f"restore_{table}"
        db.execute(
            f"CREATE TEMPORARY TABLE {staging} (LIKE {table} INCLUDING DEFAULTS,"
            f" restore_line integer NOT NULL) ON COMMIT DROP"
        )
        with db.cursor().copy(f"COPY {staging} ({columns.sql}, restore_line) FROM STDIN") as copy:
            for line, row in enumerate(rows):
                copy.write_row((*row, line))
        found = db.execute(
            f"INSERT INTO {table} ({columns.sql}) SELECT {columns.sql} FROM {staging}"
            f" ORDER BY restore_line ON CONFLICT DO NOTHING RETURNING id"
        )
        return {row[0] for row in found.fetchall()}

    def _reader(self) -> AbstractContextManager[psycopg.Connection]:
        return self._db()

    def _change(self, sql: str, params: Any = ()) -> Changed:
        with self._db() as db:
            cursor = db.execute(sql, params)
            return Changed(cursor.fetchall() if cursor.description else [], cursor.rowcount)

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
        (table,) = conn.execute("SELECT to_regclass('schema_version')").fetchall()[0]
        if table is None:
            return 0
        return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]

    def close(self) -> None:
        pid = os.getpid()
        listener = self._listeners.pop(pid, None)
        if listener is not None:
            listener.stop()
        pool = self._pools.pop(pid, None)
        if pool is not None:
            pool.close()

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
        if all(new.idempotency_key is None for new in tasks):
            with self._write() as db:
                _insert(db, tasks)
                self._link(db, tasks)
                self._wake(db)
            if len(tasks) >= COPY_FROM:
                self._refresh_estimate(len(tasks))
            return [(new.as_task(), True) for new in tasks]
        with self._write() as db:
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
            self._link(
                db, [new for new, (_, created) in zip(tasks, results, strict=True) if created]
            )
            if any(created for _, created in results):
                self._wake(db)
        return results

    def _refresh_estimate(self, added: int) -> None:
        """ANALYZE the tasks table when the planner's row estimate is below the batch just
        added. On the statistics of an emptied table (old tasks pruned, then analyzed), the
        planner finds each of a burst's rows by id through a whole scan of another index:
        reaping 10,000 expired leases took 20 s instead of 1 s, with the scheduler's writes
        waiting behind it. Autovacuum would refresh the estimate only a minute later."""
        with self._db() as db:
            row = db.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'tasks'::regclass"
            ).fetchone()
            if row is not None and 0 <= row[0] < added:
                db.execute("ANALYZE tasks")

    # -- the runner's side ------------------------------------------------------------------

    def next_due_at(self, worker: str) -> float | None:
        with self._db() as db:
            row = db.execute(NEXT_DUE, (worker,)).fetchone()
        return None if row is None else row[0]

    def claim(self, worker, owner, limit, due_before, now, lease_until) -> list[Task]:
        params = {
            "owner": owner,
            "lease_until": lease_until,
            "now": now,
            "worker": worker,
            "due_before": due_before,
            "limit": limit,
        }
        if self._started_watched():
            rows = self._claim_announced(CLAIM, params, now)
        else:
            with self._db() as db:
                rows = db.execute(CLAIM, params).fetchall()
        return in_due_order(task_from_row(row) for row in rows)

    def mark_queued(self, worker: str, due_after: float, now: float) -> None:
        with self._db() as db:
            db.execute(MARK_QUEUED, (worker, due_after, now))

    def finish(self, outcomes: list[Outcome]) -> list[Task]:
        if not outcomes:
            return []
        with self._write() as db:
            rows = db.execute(FINISH, _outcome_columns(outcomes)).fetchall()
            finished = [task_from_row(row) for row in rows]
            self._ended(db, finished, max(o.finished_at for o in outcomes))
        return in_order_of(outcomes, finished)


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
