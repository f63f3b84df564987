"""The embedded store: one SQLite file shared by every process on the host.

WAL lets readers run beside the one writer; ``busy_timeout`` makes writers from several
processes queue instead of failing; every write is a single statement or an explicit
``BEGIN IMMEDIATE`` transaction. ``synchronous=NORMAL`` keeps every commit across a crash of
the process (``kill -9``); only a power loss may take the last commits.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from importlib.resources import files
from typing import Any, Iterator

from tasky.errors import InvalidInput, StateConflict, TaskNotFound
from tasky.models import (
    ACTIVE_STATES,
    EDITABLE_STATES,
    TERMINAL_STATES,
    WAITING_STATES,
    NewTask,
    Outcome,
    Task,
    TaskFilter,
    TaskPage,
    TaskState,
    WorkerCounts,
)
from tasky.stores.base import Store

SCHEMA_VERSION = 1
TASK_COLUMNS = (
    "id, worker, status, config, execute_at, created_at, started_at, finished_at, attempts,"
    " max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error, output,"
    " output_truncated, owner, lease_until, lateness, queued_for, ran_for"
)
LIST_COLUMNS = (
    "id, worker, status, '{}', execute_at, created_at, started_at, finished_at, attempts,"
    " max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error, NULL,"
    " output_truncated, owner, lease_until, lateness, queued_for, ran_for"
)


def _in(states) -> str:
    return "(" + ", ".join(f"'{s}'" for s in sorted(states)) + ")"


WAITING = _in(WAITING_STATES)
ACTIVE = _in(ACTIVE_STATES)
TERMINAL = _in(TERMINAL_STATES)
EDITABLE = _in(EDITABLE_STATES)


def _task(row: tuple) -> Task:
    (id_, worker, status, config, execute_at, created_at, started_at, finished_at, attempts,
     max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error, output,
     output_truncated, owner, lease_until, lateness, queued_for, ran_for) = row
    return Task(
        id=id_, worker=worker, status=TaskState(status), config=json.loads(config),
        execute_at=execute_at, created_at=created_at, started_at=started_at,
        finished_at=finished_at, attempts=attempts, max_retries=max_retries,
        retry_backoff=retry_backoff, timeout=timeout, schedule_id=schedule_id,
        idempotency_key=idempotency_key, error=error,
        output=None if output is None else json.loads(output),
        output_truncated=bool(output_truncated), owner=owner, lease_until=lease_until,
        lateness=lateness, queued_for=queued_for, ran_for=ran_for,
    )


def encode_cursor(task_id: str) -> str:
    return base64.urlsafe_b64encode(task_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        task_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        task_id = ""
    if len(task_id) != 32 or any(c not in "0123456789abcdef" for c in task_id):
        raise InvalidInput("bad cursor", errors={"cursor": ["Not a cursor this server gave."]})
    return task_id


class SQLiteStore(Store):
    kind = "sqlite"

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._migrate()

    # -- connections ------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """One connection per thread, reopened after a fork (connections do not survive it)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                for statement in files("tasky.stores.schema").joinpath("sqlite.sql").read_text() \
                        .split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def ping(self) -> None:
        self._db.execute("SELECT 1").fetchone()

    # -- submitting and reading -------------------------------------------------------------

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        results = []
        with self._write() as db:
            for new in tasks:
                row = db.execute(
                    f"INSERT INTO tasks (id, worker, status, config, execute_at, created_at,"
                    f" max_retries, retry_backoff, timeout, schedule_id, idempotency_key)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {TASK_COLUMNS}",
                    (new.id, new.worker, new.status.value, json.dumps(new.config),
                     new.execute_at, new.created_at, new.max_retries, new.retry_backoff,
                     new.timeout, new.schedule_id, new.idempotency_key),
                ).fetchone()
                if row is not None:
                    results.append((_task(row), True))
                    continue
                existing = db.execute(
                    f"SELECT {TASK_COLUMNS} FROM tasks WHERE idempotency_key = ?",
                    (new.idempotency_key,),
                ).fetchone()
                results.append((_task(existing), False))
        return results

    def get_task(self, task_id: str) -> Task | None:
        row = self._db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)) \
            .fetchone()
        return None if row is None else _task(row)

    def list_tasks(self, filters: TaskFilter, limit: int, cursor: str | None) -> TaskPage:
        where, params = [], []
        for column, value in (("status", filters.status), ("worker", filters.worker),
                              ("schedule_id", filters.schedule_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        if cursor is not None:
            where.append("id < ?")
            params.append(decode_cursor(cursor))
        sql = f"SELECT {LIST_COLUMNS} FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._db.execute(sql, (*params, limit + 1)).fetchall()
        tasks = [_task(row) for row in rows[:limit]]
        next_cursor = encode_cursor(tasks[-1].id) if len(rows) > limit else None
        return TaskPage(tasks, next_cursor)

    def worker_counts(self, worker: str) -> WorkerCounts:
        db = self._db
        by_status = dict(db.execute(
            "SELECT status, count(*) FROM tasks WHERE worker = ? GROUP BY status", (worker,)))
        durations = [r[0] for r in db.execute(
            f"SELECT ran_for FROM tasks WHERE worker = ? AND status IN ('completed', 'failed')"
            f" ORDER BY ran_for", (worker,))]
        last = db.execute(
            f"SELECT max(finished_at) FROM tasks WHERE worker = ? AND status IN {TERMINAL}",
            (worker,)).fetchone()[0]
        return WorkerCounts(by_status, durations, last)

    # -- the runner's side ------------------------------------------------------------------

    def next_due_at(self, worker: str) -> float | None:
        return self._db.execute(
            f"SELECT min(execute_at) FROM tasks WHERE worker = ? AND status IN {WAITING}",
            (worker,)).fetchone()[0]

    def claim(self, worker, owner, limit, due_before, now, lease_until) -> list[Task]:
        rows = self._db.execute(
            f"UPDATE tasks SET status = 'running', owner = :owner, lease_until = :lease_until,"
            f" attempts = attempts + 1, started_at = max(execute_at, :now),"
            f" lateness = coalesce(lateness, max(execute_at, :now) - execute_at),"
            f" queued_for = queued_for + max(execute_at, :now) - execute_at"
            f" WHERE id IN (SELECT id FROM tasks WHERE worker = :worker AND status IN {WAITING}"
            f" AND execute_at <= :due_before ORDER BY execute_at, id LIMIT :limit)"
            f" RETURNING {TASK_COLUMNS}",
            {"owner": owner, "lease_until": lease_until, "now": now, "worker": worker,
             "due_before": due_before, "limit": limit},
        ).fetchall()
        return sorted((_task(row) for row in rows), key=lambda t: (t.execute_at, t.id))

    def mark_queued(self, worker: str, now: float) -> None:
        self._db.execute(
            "UPDATE tasks SET status = 'queued' WHERE worker = ? AND status = 'scheduled'"
            " AND execute_at <= ?", (worker, now))

    def renew_leases(self, owner: str, lease_until: float) -> None:
        self._db.execute(
            f"UPDATE tasks SET lease_until = ? WHERE owner = ? AND status IN {ACTIVE}",
            (lease_until, owner))

    def canceling_ids(self, owner: str) -> list[str]:
        return [r[0] for r in self._db.execute(
            "SELECT id FROM tasks WHERE owner = ? AND status = 'canceling'", (owner,))]

    def finish(self, outcomes: list[Outcome]) -> list[Task]:
        finished = []
        with self._write() as db:
            for o in outcomes:
                row = db.execute(
                    f"UPDATE tasks SET"
                    f" status = CASE WHEN status = 'canceling' THEN 'canceled' ELSE :status END,"
                    f" finished_at = CASE WHEN status = 'canceling' OR :status != 'scheduled'"
                    f"   THEN :finished_at END,"
                    f" execute_at = CASE WHEN status != 'canceling' AND :status = 'scheduled'"
                    f"   THEN :retry_at ELSE execute_at END,"
                    f" ran_for = ran_for + max(0, :finished_at - started_at),"
                    f" output = :output, output_truncated = :output_truncated, error = :error,"
                    f" owner = NULL, lease_until = NULL"
                    f" WHERE id = :id AND owner = :owner AND attempts = :attempt"
                    f" AND status IN {ACTIVE} RETURNING {TASK_COLUMNS}",
                    {"status": o.status.value, "finished_at": o.finished_at,
                     "retry_at": o.retry_at, "error": o.error,
                     "output": None if o.output is None else json.dumps(o.output),
                     "output_truncated": o.output_truncated, "id": o.task_id,
                     "owner": o.owner, "attempt": o.attempt},
                ).fetchone()
                if row is not None:
                    finished.append(_task(row))
        return finished

    def recover(self, now: float, owner: str | None = None) -> list[Task]:
        held_by = "owner = :owner" if owner is not None else "lease_until < :now"
        rows = self._db.execute(
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
        ).fetchall()
        return [_task(row) for row in rows]

    def owners(self) -> set[str]:
        return {r[0] for r in self._db.execute(
            f"SELECT DISTINCT owner FROM tasks WHERE status IN {ACTIVE}")}

    def prune(self, finished_before: float) -> int:
        return self._db.execute(
            f"DELETE FROM tasks WHERE finished_at < ? AND status IN {TERMINAL}",
            (finished_before,)).rowcount

    # -- transitions asked for by clients -------------------------------------------------

    def _transition(self, task_id: str, allowed: str, assignments: str,
                    params: dict[str, Any]) -> Task:
        """One conditional UPDATE; when it matches nothing, tell a missing task from a task in
        the wrong state."""
        row = self._db.execute(
            f"UPDATE tasks SET {assignments} WHERE id = :id AND status IN {allowed}"
            f" RETURNING {TASK_COLUMNS}", {**params, "id": task_id}).fetchone()
        if row is not None:
            return _task(row)
        current = self._db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if current is None:
            raise TaskNotFound()
        raise StateConflict(f"task is {current[0]}")

    def cancel(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id, _in(set(TaskState) - TERMINAL_STATES),
            f"status = CASE WHEN status IN {ACTIVE} THEN 'canceling' ELSE 'canceled' END,"
            f" finished_at = CASE WHEN status IN {ACTIVE} THEN NULL ELSE :now END",
            {"now": now})

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
            if "execute_at" not in changes else
            "status = CASE WHEN status = 'paused' THEN 'paused'"
            " WHEN :execute_at <= :now THEN 'queued' ELSE 'scheduled' END")
        return self._transition(task_id, EDITABLE, ", ".join(assignments), {**params, "now": now})

    def pause(self, task_id: str) -> Task:
        return self._transition(task_id, WAITING, "status = 'paused'", {})

    def resume(self, task_id: str, now: float) -> Task:
        return self._transition(
            task_id, "('paused')",
            "status = CASE WHEN execute_at <= :now THEN 'queued' ELSE 'scheduled' END",
            {"now": now})

    def run_now(self, task_id: str, now: float) -> Task:
        return self._transition(task_id, EDITABLE, "status = 'queued', execute_at = :now",
                                {"now": now})

    def delete_task(self, task_id: str) -> None:
        deleted = self._db.execute(
            f"DELETE FROM tasks WHERE id = ? AND status IN {TERMINAL}", (task_id,)).rowcount
        if deleted:
            return
        current = self._db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if current is None:
            raise TaskNotFound()
        raise StateConflict(f"task is {current[0]}; only a finished task can be deleted")
