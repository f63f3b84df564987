"""The SQL both stores speak: each statement and each state transition, written once.

:class:`SQLStore` implements every method of the contract whose SQL is the same in SQLite and
PostgreSQL; a :class:`Dialect` names what the two write differently. A subclass brings the
connections (``_reader``, ``_write``, ``_change``) and the statements whose shape differs for
speed: the runner's claim, finish, next_due_at and mark_queued, and a batch's insert.

Statements are written with psycopg's placeholders (``%s``, ``%(name)s``); the SQLite dialect
turns them into sqlite3's (``?``, ``:name``).
"""

from __future__ import annotations

from abc import abstractmethod
from array import array
from collections.abc import Collection
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from tasky import jsontext
from tasky.errors import StateConflict, TaskNotFound
from tasky.models import (
    LeaseReport,
    NewTask,
    RunnerInfo,
    Task,
    TaskFilter,
    TaskPage,
    WorkerCounts,
)
from tasky.stores.backup import BackupStatements
from tasky.stores.base import Store
from tasky.stores.chains import Chains
from tasky.stores.dashboard import DashboardSQL
from tasky.stores.deps import CANCEL_SET
from tasky.stores.dialect import Dialect
from tasky.stores.rows import (
    ACTIVE,
    EDITABLE,
    LIST_COLUMNS,
    NOT_TERMINAL,
    RETRIES_LEFT,
    RUNNER,
    RUNNER_COLUMNS,
    TASK,
    TASK_COLUMNS,
    TERMINAL,
    WAITING,
    KeysetPage,
    insert_rows,
    lease_report,
    retrying,
    runner_from_row,
    task_from_row,
)
from tasky.stores.schedules import ScheduleStatements

INTERRUPTED = "'failed'"
"""An attempt a crash interrupted ends as a failed one would (``rows.retrying``)."""
EDITABLE_COLUMNS = {"config", "execute_at", "timeout", "max_retries", "retry_backoff"}
"""The fields of a task that ``update_waiting`` may change."""

HEARTBEAT = (
    f"INSERT INTO runners ({RUNNER_COLUMNS}) VALUES ({', '.join(['%s'] * RUNNER.width)})"
    f" ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,"
    f" workers = excluded.workers, running = excluded.running"
)
RENEW = (
    f"UPDATE tasks SET lease_until = %s WHERE owner = %s AND status IN {ACTIVE}"
    f" RETURNING id, status"
)
"""The lease renewal: its RETURNING rows are the (id, status) the owner still holds."""


class Changed(NamedTuple):
    """What a writing statement did: its RETURNING rows and how many rows it changed."""

    rows: list[tuple]
    rowcount: int


class SQLStore(ScheduleStatements, DashboardSQL, Chains, BackupStatements, Store):
    """The contract in SQL, over the connections of a subclass."""

    dialect: Dialect

    # -- connections: what a subclass provides ---------------------------------------------

    @abstractmethod
    def _reader(self) -> AbstractContextManager[Any]:
        """A connection for reads (each statement its own transaction)."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A connection inside one write transaction, committed on a normal exit."""

    @abstractmethod
    def _change(self, sql: str, params: Any = ()) -> Changed:
        """One writing statement, its own transaction: its RETURNING rows and row count."""

    def _read(self, sql: str, params: Any = ()) -> list[tuple]:
        """All rows of one query."""
        with self._reader() as db:
            return db.execute(self.dialect.sql(sql), params).fetchall()

    def _execute(self, db: Any, sql: str, params: Any = ()) -> Any:
        """One statement on ``db`` (a connection of ``_reader`` or ``_write``); its cursor."""
        return db.execute(self.dialect.sql(sql), params)

    def _wake(self, db: Any) -> None:
        """Wake the runners when ``db``'s transaction commits."""
        if self.dialect.notify is not None:
            db.execute(f"SELECT {self.dialect.notify}")

    def _released(self, db: Any) -> None:
        self._wake(db)

    def ping(self) -> None:
        self._read("SELECT 1")

    # -- submitting and reading -------------------------------------------------------------

    def _insert_task(self, db: Any, new: NewTask) -> tuple[Task, bool]:
        """Insert one task in ``db``'s transaction: ``(task, created)`` as ``create_tasks``
        gives them (a stored idempotency key gives back the stored task)."""
        row = self._execute(
            db, f"{self.dialect.insert_task} RETURNING {TASK_COLUMNS}", insert_rows([new])[0]
        ).fetchone()
        if row is not None:
            self._link(db, [new])
            return task_from_row(row), True
        return self._by_idempotency_key(db, new.idempotency_key), False

    def _by_idempotency_key(self, db: Any, key: str | None) -> Task:
        sql = f"SELECT {TASK_COLUMNS} FROM tasks WHERE idempotency_key = %s"
        return task_from_row(self._execute(db, sql, (key,)).fetchone())

    def get_task(self, task_id: str) -> Task | None:
        rows = self._read(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s", (task_id,))
        return task_from_row(rows[0]) if rows else None

    def list_tasks(self, filters: TaskFilter, limit: int, cursor: str | None) -> TaskPage:
        equal = {
            "status": filters.status,
            "worker": filters.worker,
            "schedule_id": filters.schedule_id,
            "chain_id": filters.chain_id,
        }
        page = KeysetPage.of(LIST_COLUMNS, "tasks", equal, cursor, limit)
        return TaskPage(*page.read(self._read(page.sql, page.params), task_from_row))

    def worker_counts(self, worker: str) -> WorkerCounts:
        of_worker = "FROM tasks WHERE worker = %s"
        finished = "status IN ('completed', 'failed')"
        with self._reader() as db:
            counts = f"SELECT status, count(*) {of_worker} GROUP BY status"
            by_status = dict(self._execute(db, counts, (worker,)))
            ran = f"SELECT ran_for {of_worker} AND {finished} ORDER BY ran_for"
            durations = array("d", (r[0] for r in self._execute(db, ran, (worker,))))
            last = f"SELECT max(finished_at) {of_worker} AND status IN {TERMINAL}"
            (last_finish,) = self._execute(db, last, (worker,)).fetchone()
        return WorkerCounts(by_status, durations, last_finish)

    def unfinished_counts(self) -> list[tuple[str, str, int]]:
        sql = (
            f"SELECT worker, status, count(*) FROM tasks WHERE status IN {NOT_TERMINAL}"
            f" GROUP BY worker, status ORDER BY worker, status"
        )
        return [(worker, status, count) for worker, status, count in self._read(sql)]

    # -- the runner's side ------------------------------------------------------------------

    def renew_leases(self, owner: str, lease_until: float, held: Collection[str]) -> LeaseReport:
        return lease_report(held, self._change(RENEW, (lease_until, owner)).rows)

    def canceling_ids(self, owner: str) -> list[str]:
        sql = "SELECT id FROM tasks WHERE owner = %s AND status = 'canceling' ORDER BY id"
        return [r[0] for r in self._read(sql, (owner,))]

    def recover(self, now: float, owner: str | None = None) -> list[Task]:
        # An interrupted attempt counts as a failed one: the same retry rule decides, and a
        # task retried after a crash is due at once (queued). Every runner reaps expired
        # leases every second: rows that another one is reaping (or their late owner
        # finishing) are skipped rather than waited for. An owner handing its own tasks back
        # waits, so that none is left behind.
        d = self.dialect
        held_by = (
            f"owner = %(owner)s AND status IN {ACTIVE}"
            if owner is not None
            else d.unlocked(f"status IN {ACTIVE} AND lease_until < %(now)s")
        )
        ran = f"{d.least}(%(now)s, coalesce(lease_until, %(now)s)) - started_at"
        with self._write() as db:
            rows = self._execute(
                db,
                f"UPDATE tasks SET"
                f" status = CASE WHEN status = 'canceling' THEN 'canceled'"
                f"   WHEN {RETRIES_LEFT} THEN 'queued' ELSE 'failed' END,"
                f" finished_at = CASE WHEN {retrying(INTERRUPTED)} THEN NULL ELSE %(now)s END,"
                f" execute_at = CASE WHEN {retrying(INTERRUPTED)}"
                f"   THEN %(now)s ELSE execute_at END,"
                f" error = CASE WHEN status = 'canceling' THEN error ELSE 'interrupted' END,"
                f" ran_for = ran_for + {d.greatest}(0, {ran}),"
                f" owner = NULL, lease_until = NULL"
                f" WHERE {held_by} RETURNING {d.returning(TASK, wake=True)}",
                {"now": now, "owner": owner},
            ).fetchall()
            recovered = [task_from_row(row) for row in rows]
            self._ended(db, recovered, now)
        return recovered

    def owners(self) -> set[str]:
        return {
            r[0] for r in self._read(f"SELECT DISTINCT owner FROM tasks WHERE status IN {ACTIVE}")
        }

    def prune(self, finished_before: float) -> int:
        # A parent stays while a child waits for it or has yet to read its result.
        where = self.dialect.unlocked(
            f"finished_at < %s AND status IN {TERMINAL} AND NOT EXISTS (SELECT 1 FROM task_deps d"
            f" JOIN tasks c ON c.id = d.child_id WHERE d.parent_id = tasks.id"
            f" AND c.status NOT IN {TERMINAL})"
        )
        return self._change(f"DELETE FROM tasks WHERE {where}", (finished_before,)).rowcount

    # -- transitions asked for by clients -------------------------------------------------

    def _transition(
        self,
        task_id: str,
        allowed: str,
        assignments: str,
        params: dict[str, Any],
        wake: bool = False,
    ) -> Task:
        """One conditional UPDATE; when it matches nothing, tell a missing task from a task in
        the wrong state. With ``wake`` the change wakes the runners (it made work due). A
        task it ends settles its children in the same transaction."""
        with self._write() as db:
            row = self._execute(
                db,
                f"UPDATE tasks SET {assignments} WHERE id = %(id)s AND status IN {allowed}"
                f" RETURNING {self.dialect.returning(TASK, wake)}",
                {**params, "id": task_id},
            ).fetchone()
            if row is not None:
                task = task_from_row(row)
                self._ended(db, [task], params.get("now", task.finished_at or 0.0))
                return task
        raise self._unchanged(task_id)

    def _unchanged(self, task_id: str, why: str = "") -> Exception:
        """The error of a transition that matched no row: the task is missing, or in another
        state (``why`` adds to the message)."""
        rows = self._read("SELECT status FROM tasks WHERE id = %s", (task_id,))
        if not rows:
            return TaskNotFound(f"no task {task_id!r}")
        return StateConflict(f"task is {rows[0][0]}{why}")

    def cancel(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id, NOT_TERMINAL, CANCEL_SET.replace("%s", "%(now)s"), {"now": now}, wake=True
        )

    def update_waiting(self, task_id: str, changes: dict[str, Any], now: float) -> Task:
        unknown = set(changes) - EDITABLE_COLUMNS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        params = {k: jsontext.dumps(v) if k == "config" else v for k, v in changes.items()}
        assignments = [f"{column} = %({column})s" for column in changes]
        due = "%(execute_at)s" if "execute_at" in changes else "execute_at"
        assignments.append(
            f"status = CASE WHEN status = 'paused' THEN 'paused'"
            f" WHEN {due} <= %(now)s THEN 'queued' ELSE 'scheduled' END"
        )
        return self._transition(
            task_id, EDITABLE, ", ".join(assignments), {**params, "now": now}, wake=True
        )

    def pause(self, task_id: str) -> Task:
        return self._transition(task_id, WAITING, "status = 'paused'", {})

    def resume(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id,
            "('paused')",
            "status = CASE WHEN execute_at <= %(now)s THEN 'queued' ELSE 'scheduled' END",
            {"now": now},
            wake=True,
        )

    def run_now(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id, EDITABLE, "status = 'queued', execute_at = %(now)s", {"now": now}, wake=True
        )

    def delete_task(self, task_id: str) -> None:
        sql = f"DELETE FROM tasks WHERE id = %s AND status IN {TERMINAL}"
        if not self._change(sql, (task_id,)).rowcount:
            raise self._unchanged(task_id, "; only a finished task can be deleted")

    # -- runners ------------------------------------------------------------------------------

    def record_heartbeat(self, runner: RunnerInfo) -> None:
        self._change(HEARTBEAT, RUNNER.to_row(runner))

    def remove_runner(self, runner_id: str) -> None:
        self._change("DELETE FROM runners WHERE id = %s", (runner_id,))

    def list_runners(self) -> list[RunnerInfo]:
        rows = self._read(f"SELECT {RUNNER_COLUMNS} FROM runners ORDER BY host, pid")
        return [runner_from_row(row) for row in rows]

    def forget_runners(self, heartbeat_before: float) -> int:
        sql = "DELETE FROM runners WHERE heartbeat_at < %s"
        return self._change(sql, (heartbeat_before,)).rowcount
