"""The embedded store: one SQLite file shared by every process on the host.

WAL lets readers run beside the one writer. Writers take turns on ``_WriteLock`` (below),
so SQLite's busy handler, which waits by sleeping, only arbitrates with programs other than
Tasky; ``busy_timeout`` makes those queue instead of failing. Every write is a single
statement or an explicit ``BEGIN IMMEDIATE`` transaction. ``synchronous=NORMAL`` keeps every
commit across a crash of the process (``kill -9``); only a power loss may take the last
commits.

The runner's hot statements (``claim``, ``finish``) take numbered parameters (``?1``), not
named ones: Python's sqlite3 looks up each name with the GIL released, and under load each
release can hand the GIL to another thread.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from array import array
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

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

INSERT_TASK = insert_task_sql("?")
RENEW = renew_sql("?")
HEARTBEAT = heartbeat_sql("?")
BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another program's write before it fails (then a 503); Tasky's
own processes take turns on ``_WriteLock`` instead."""
OUTAGE_CODES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
)
"""Result codes (with their extended forms) of a database that cannot answer now, as
opposed to a fault of the statement."""

# The runner's hot statements, with numbered parameters (see the module's docstring).
CLAIM = (
    f"UPDATE tasks SET status = 'running', owner = ?1, lease_until = ?2,"
    f" attempts = attempts + 1, started_at = max(execute_at, ?3),"
    f" lateness = coalesce(lateness, max(execute_at, ?3) - execute_at),"
    f" queued_for = queued_for + max(execute_at, ?3) - execute_at"
    f" WHERE id IN (SELECT id FROM tasks WHERE worker = ?4 AND status IN {WAITING}"
    f" AND execute_at <= ?5 ORDER BY execute_at, id LIMIT ?6)"
    f" RETURNING {TASK_COLUMNS}"
)
FINISH = (
    f"UPDATE tasks SET"
    f" status = CASE WHEN status = 'canceling' THEN 'canceled' ELSE ?1 END,"
    f" finished_at = CASE WHEN status = 'canceling' OR ?1 != 'scheduled' THEN ?2 END,"
    f" execute_at = CASE WHEN status != 'canceling' AND ?1 = 'scheduled'"
    f"   THEN ?3 ELSE execute_at END,"
    f" ran_for = ran_for + max(0, ?2 - started_at),"
    f" output = ?4, output_truncated = ?5, error = ?6, owner = NULL, lease_until = NULL"
    f" WHERE id = ?7 AND owner = ?8 AND attempts = ?9"
    f" AND status IN {ACTIVE} RETURNING {TASK_COLUMNS}"
)
"""Ends one attempt, fenced by (id, owner, attempt)."""


class _WriteLock:
    """Writers take turns: the threads of a process on a lock, the processes on an ``flock``
    of ``<database>-lock``. A process waiting for another's write sleeps in the kernel until
    its turn comes; SQLite's busy handler would poll, sleeping 1, 2, 5, 10 … ms between
    tries, and an HTTP process and its runner process write all the time."""

    def __init__(self, path: str):
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._fd is None:
                self._fd = self._open()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            error = sqlite3.OperationalError(f"cannot open {self.path}: {exc.strerror}")
            error.sqlite_errorname = "SQLITE_CANTOPEN"
            raise error from exc

    def close(self) -> None:
        """Let go of this process's file (after a fork: the parent's, which shares its lock
        with the parent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Changed(NamedTuple):
    rows: list[tuple]
    count: int


class _QueuedInsert:
    """One caller's tasks, waiting for whichever thread commits next."""

    __slots__ = ("done", "error", "result", "tasks")

    def __init__(self, tasks: list[NewTask]):
        self.tasks = tasks
        self.done = False
        self.result: list[tuple[Task, bool]] = []
        self.error: BaseException | None = None


class SQLiteStore(Store):
    kind = "sqlite"
    outage_errors = (sqlite3.OperationalError,)

    def is_outage(self, error: Exception) -> bool:
        return getattr(error, "sqlite_errorname", "").startswith(OUTAGE_CODES)

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._writer_conn: sqlite3.Connection | None = None
        self._write_lock = _WriteLock(f"{path}-lock")
        self._queued_lock = threading.Lock()
        self._queued_inserts: list[_QueuedInsert] = []
        os.register_at_fork(after_in_child=self._after_fork)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._migrate()

    # -- connections ------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's reading connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @property
    def _writer(self) -> sqlite3.Connection:
        """The process's one writing connection, used under the write lock. Its page cache
        stays valid from one write to the next; a connection per thread would re-read every
        page that the other threads' writes changed."""
        if self._writer_conn is None:
            self._writer_conn = self._connect()
        return self._writer_conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _after_fork(self) -> None:
        """Connections, locks and queued writes do not survive a fork: start afresh."""
        self._local = threading.local()
        self._writer_conn = None
        self._write_lock.close()
        self._write_lock = _WriteLock(self._write_lock.path)
        self._queued_lock = threading.Lock()
        self._queued_inserts = []

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction."""
        with self._write_lock, self._transaction() as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, the write lock being held."""
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _change(self, sql: str, params: Any = ()) -> Changed:
        """One writing statement (its own transaction): its RETURNING rows and row count."""
        with self._write_lock:
            cursor = self._writer.execute(sql, params)
            return Changed(cursor.fetchall(), cursor.rowcount)

    def _migrate(self) -> None:
        """Apply the numbered files of ``schema/sqlite`` above ``user_version``, in one
        transaction that several starting processes take in turn."""
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, sql in migrations("sqlite"):
                if number > version:
                    for statement in sql.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")

    def close(self) -> None:
        """Close this thread's connection and the writing one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None
        with self._write_lock:
            if self._writer_conn is not None:
                self._writer_conn.close()
            self._writer_conn = None

    def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    # -- submitting and reading -------------------------------------------------------------

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """Group commit: callers that arrive while another thread writes queue their tasks,
        and the next thread to take the write lock inserts all that are queued in one
        transaction. Under concurrent submits that saves a commit (and its WAL pages) per
        caller. A failed transaction fails every caller in it; none of their tasks is stored.
        """
        mine = _QueuedInsert(tasks)
        with self._queued_lock:
            self._queued_inserts.append(mine)
        with self._write_lock:
            if not mine.done:
                with self._queued_lock:
                    group, self._queued_inserts = self._queued_inserts, []
                self._insert_group(group)
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _insert_group(self, group: list[_QueuedInsert]) -> None:
        try:
            with self._transaction() as db:
                for queued in group:
                    queued.result = self._insert_tasks(db, queued.tasks)
        except BaseException as exc:
            for queued in group:
                queued.error = exc
        finally:
            for queued in group:
                queued.done = True

    def _insert_tasks(
        self, db: sqlite3.Connection, tasks: list[NewTask]
    ) -> list[tuple[Task, bool]]:
        if any(new.idempotency_key is not None for new in tasks):
            return [self._insert_task(db, new) for new in tasks]
        rows = insert_rows(tasks)
        rows.sort()  # in id order each row lands next to the last in the primary key's index
        db.executemany(INSERT_TASK, rows)
        return [(new.as_task(), True) for new in tasks]

    @staticmethod
    def _insert_task(db: sqlite3.Connection, new: NewTask) -> tuple[Task, bool]:
        inserted = db.execute(
            f"{INSERT_TASK} ON CONFLICT (idempotency_key) DO NOTHING RETURNING {TASK_COLUMNS}",
            insert_rows([new])[0],
        ).fetchone()
        if inserted is not None:
            return task_from_row(inserted), True
        existing = db.execute(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE idempotency_key = ?", (new.idempotency_key,)
        ).fetchone()
        return task_from_row(existing), False

    def get_task(self, task_id: str) -> Task | None:
        row = self._db.execute(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)
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
            "?",
        )
        return TaskPage(
            *page.read(self._db.execute(page.sql, page.params).fetchall(), task_from_row)
        )

    def worker_counts(self, worker: str) -> WorkerCounts:
        db = self._db
        by_status = dict(
            db.execute(
                "SELECT status, count(*) FROM tasks WHERE worker = ? GROUP BY status", (worker,)
            )
        )
        durations = array(
            "d",
            (
                r[0]
                for r in db.execute(
                    "SELECT ran_for FROM tasks WHERE worker = ? AND status IN ('completed', 'failed')"
                    " ORDER BY ran_for",
                    (worker,),
                )
            ),
        )
        last = db.execute(
            f"SELECT max(finished_at) FROM tasks WHERE worker = ? AND status IN {TERMINAL}",
            (worker,),
        ).fetchone()[0]
        return WorkerCounts(by_status, durations, last)

    def unfinished_counts(self) -> list[tuple[str, str, int]]:
        return [tuple(row) for row in self._db.execute(UNFINISHED_COUNTS)]

    # -- the runner's side ------------------------------------------------------------------

    def next_due_at(self, worker: str) -> float | None:
        return self._db.execute(
            f"SELECT min(execute_at) FROM tasks WHERE worker = ? AND status IN {WAITING}", (worker,)
        ).fetchone()[0]

    def claim(self, worker, owner, limit, due_before, now, lease_until) -> list[Task]:
        rows = self._change(CLAIM, (owner, lease_until, now, worker, due_before, limit)).rows
        return in_due_order(task_from_row(row) for row in rows)

    def mark_queued(self, worker: str, due_after: float, now: float) -> None:
        due_scheduled = (
            f"FROM tasks WHERE worker = ? AND status IN {WAITING} AND execute_at > ?"
            f" AND execute_at <= ? AND status = 'scheduled'"
        )
        params = (worker, due_after, now)
        if self._db.execute(f"SELECT 1 {due_scheduled} LIMIT 1", params).fetchone():
            self._change(
                f"UPDATE tasks SET status = 'queued' WHERE id IN (SELECT id {due_scheduled})",
                params,
            )

    def renew_leases(self, owner: str, lease_until: float, held: Collection[str]) -> LeaseReport:
        return lease_report(held, self._change(RENEW, (lease_until, owner)).rows)

    def canceling_ids(self, owner: str) -> list[str]:
        return [
            r[0]
            for r in self._db.execute(
                "SELECT id FROM tasks WHERE owner = ? AND status = 'canceling'", (owner,)
            )
        ]

    def finish(self, outcomes: list[Outcome]) -> list[Task]:
        finished = []
        with self._write() as db:
            for o in outcomes:
                row = db.execute(
                    FINISH,
                    (
                        o.status.value,
                        o.finished_at,
                        o.retry_at,
                        o.output_json,
                        o.output_truncated,
                        o.error,
                        o.task_id,
                        o.owner,
                        o.attempt,
                    ),
                ).fetchone()
                if row is not None:
                    finished.append(task_from_row(row))
        return finished

    def recover(self, now: float, owner: str | None = None) -> list[Task]:
        held_by = "owner = :owner" if owner is not None else "lease_until < :now"
        rows = self._change(
            f"UPDATE tasks SET"
            f" status = CASE WHEN status = 'canceling' THEN 'canceled'"
            f"   WHEN attempts <= max_retries THEN 'queued' ELSE 'failed' END,"
            f" finished_at = CASE WHEN status != 'canceling' AND attempts <= max_retries"
            f"   THEN NULL ELSE :now END,"
            f" execute_at = CASE WHEN status != 'canceling' AND attempts <= max_retries"
            f"   THEN :now ELSE execute_at END,"
            f" error = CASE WHEN status = 'canceling' THEN error ELSE 'interrupted' END,"
            f" ran_for = ran_for + max(0, min(:now, coalesce(lease_until, :now)) - started_at),"
            f" owner = NULL, lease_until = NULL"
            f" WHERE status IN {ACTIVE} AND {held_by} RETURNING {TASK_COLUMNS}",
            {"now": now, "owner": owner},
        ).rows
        return [task_from_row(row) for row in rows]

    def owners(self) -> set[str]:
        return {
            r[0]
            for r in self._db.execute(f"SELECT DISTINCT owner FROM tasks WHERE status IN {ACTIVE}")
        }

    def prune(self, finished_before: float) -> int:
        return self._change(
            f"DELETE FROM tasks WHERE finished_at < ? AND status IN {TERMINAL}", (finished_before,)
        ).count

    # -- transitions asked for by clients -------------------------------------------------

    def _transition(
        self, task_id: str, allowed: str, assignments: str, params: dict[str, Any]
    ) -> Task:
        """One conditional UPDATE; when it matches nothing, tell a missing task from a task in
        the wrong state."""
        rows = self._change(
            f"UPDATE tasks SET {assignments} WHERE id = :id AND status IN {allowed}"
            f" RETURNING {TASK_COLUMNS}",
            {**params, "id": task_id},
        ).rows
        if rows:
            return task_from_row(rows[0])
        current = self._db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if current is None:
            raise TaskNotFound(f"no task {task_id!r}")
        raise StateConflict(f"task is {current[0]}")

    def cancel(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id,
            sql_in(set(TaskState) - TERMINAL_STATES),
            f"status = CASE WHEN status IN {ACTIVE} THEN 'canceling' ELSE 'canceled' END,"
            f" finished_at = CASE WHEN status IN {ACTIVE} THEN NULL ELSE :now END",
            {"now": now},
        )

    def update_waiting(self, task_id: str, changes: dict[str, Any], now: float) -> Task:
        columns = {"config", "execute_at", "timeout", "max_retries", "retry_backoff"}
        unknown = set(changes) - columns
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        params = {k: json.dumps(v) if k == "config" else v for k, v in changes.items()}
        assignments = [f"{column} = :{column}" for column in changes]
        assignments.append(
            "status = CASE WHEN status = 'paused' THEN 'paused'"
            " WHEN execute_at <= :now THEN 'queued' ELSE 'scheduled' END"
            if "execute_at" not in changes
            else "status = CASE WHEN status = 'paused' THEN 'paused'"
            " WHEN :execute_at <= :now THEN 'queued' ELSE 'scheduled' END"
        )
        return self._transition(task_id, EDITABLE, ", ".join(assignments), {**params, "now": now})

    def pause(self, task_id: str) -> Task:
        return self._transition(task_id, WAITING, "status = 'paused'", {})

    def resume(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id,
            "('paused')",
            "status = CASE WHEN execute_at <= :now THEN 'queued' ELSE 'scheduled' END",
            {"now": now},
        )

    def run_now(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id, EDITABLE, "status = 'queued', execute_at = :now", {"now": now}
        )

    def delete_task(self, task_id: str) -> None:
        deleted = self._change(
            f"DELETE FROM tasks WHERE id = ? AND status IN {TERMINAL}", (task_id,)
        ).count
        if deleted:
            return
        current = self._db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if current is None:
            raise TaskNotFound(f"no task {task_id!r}")
        raise StateConflict(f"task is {current[0]}; only a finished task can be deleted")

    # -- schedules ------------------------------------------------------------------------------

    def create_schedule(self, schedule: Schedule) -> Schedule:
        fields = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}
        params = {**schedule_params(fields), "id": schedule.id, "created_at": schedule.created_at}
        columns = ", ".join(params)
        rows = self._change(
            f"INSERT INTO schedules ({columns}) VALUES ({', '.join(':' + c for c in params)})"
            f" RETURNING {SCHEDULE_COLUMNS}",
            params,
        ).rows
        return schedule_from_row(rows[0])

    def get_schedule(self, schedule_id: str) -> Schedule | None:
        row = self._db.execute(
            f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ?", (schedule_id,)
        ).fetchone()
        return None if row is None else schedule_from_row(row)

    def list_schedules(self, limit: int, cursor: str | None) -> SchedulePage:
        page = KeysetPage.of(SCHEDULE_COLUMNS, "schedules", {}, cursor, limit, "?")
        return SchedulePage(
            *page.read(self._db.execute(page.sql, page.params).fetchall(), schedule_from_row)
        )

    def update_schedule(
        self, schedule_id: str, changes: dict[str, Any], expect_status: ScheduleState | None = None
    ) -> Schedule:
        unknown = set(changes) - SCHEDULE_FIELDS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        params = schedule_params(changes)
        assignments = ", ".join(f"{column} = :{column}" for column in params) or "id = id"
        condition = "" if expect_status is None else " AND status = :expect_status"
        rows = self._change(
            f"UPDATE schedules SET {assignments} WHERE id = :id{condition}"
            f" RETURNING {SCHEDULE_COLUMNS}",
            {**params, "id": schedule_id, "expect_status": str(expect_status)},
        ).rows
        if rows:
            return schedule_from_row(rows[0])
        current = self.get_schedule(schedule_id)
        if current is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        raise StateConflict(f"schedule is {current.status}")

    def delete_schedule(self, schedule_id: str, now: float) -> list[Task]:
        with self._write() as db:
            if not db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount:
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            rows = db.execute(
                f"UPDATE tasks SET status = 'canceled', finished_at = ? WHERE schedule_id = ?"
                f" AND status IN {EDITABLE} RETURNING {TASK_COLUMNS}",
                (now, schedule_id),
            ).fetchall()
        return [task_from_row(row) for row in rows]

    def next_schedule_due_at(self) -> float | None:
        return self._db.execute(
            "SELECT min(next_run_at) FROM schedules WHERE status = 'active'"
        ).fetchone()[0]

    def due_schedules(self, due_before: float, limit: int) -> list[Schedule]:
        rows = self._db.execute(
            f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE status = 'active'"
            f" AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
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
            won = db.execute(
                "UPDATE schedules SET next_run_at = ? WHERE id = ? AND status = 'active'"
                " AND next_run_at = ?",
                (next_run_at, schedule_id, due_at),
            ).rowcount
            if not won:
                return Firing(False)
            if task is None or (skip_if_running and self._last_run_unfinished(db, schedule_id)):
                return Firing(True)
            created = self._record_run(db, schedule_id, task, now)
        return Firing(True, created)

    def run_schedule_now(self, schedule_id: str, task: NewTask, now: float) -> Task:
        with self._write() as db:
            if (
                db.execute("SELECT 1 FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
                is None
            ):
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            return self._record_run(db, schedule_id, task, now)

    def _record_run(
        self, db: sqlite3.Connection, schedule_id: str, task: NewTask, now: float
    ) -> Task:
        created, _ = self._insert_task(db, task)
        db.execute(
            "UPDATE schedules SET runs = runs + 1, last_run_at = ?, last_task_id = ? WHERE id = ?",
            (now, created.id, schedule_id),
        )
        return created

    @staticmethod
    def _last_run_unfinished(db: sqlite3.Connection, schedule_id: str) -> bool:
        row = db.execute(
            f"SELECT 1 FROM schedules s JOIN tasks t ON t.id = s.last_task_id"
            f" WHERE s.id = ? AND t.status NOT IN {TERMINAL}",
            (schedule_id,),
        ).fetchone()
        return row is not None

    # -- runners ------------------------------------------------------------------------------

    def record_heartbeat(self, runner: RunnerInfo) -> None:
        self._change(HEARTBEAT, runner_row(runner))

    def remove_runner(self, runner_id: str) -> None:
        self._change("DELETE FROM runners WHERE id = ?", (runner_id,))

    def list_runners(self) -> list[RunnerInfo]:
        rows = self._db.execute(f"SELECT {RUNNER_COLUMNS} FROM runners ORDER BY host, pid")
        return [runner_from_row(row) for row in rows]

    def forget_runners(self, heartbeat_before: float) -> int:
        return self._change("DELETE FROM runners WHERE heartbeat_at < ?", (heartbeat_before,)).count
