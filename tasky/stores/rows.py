"""What both SQL stores share: column lists, row conversions, state sets as SQL, cursors.

The two databases hold the same columns with the same meaning, so a row reads the same way
from either.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tasky.errors import InvalidInput
from tasky.models import (
    ACTIVE_STATES,
    EDITABLE_STATES,
    TERMINAL_STATES,
    WAITING_STATES,
    LeaseReport,
    NewTask,
    RunnerInfo,
    Schedule,
    ScheduleState,
    Task,
    TaskState,
)

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


def sql_in(states) -> str:
    return "(" + ", ".join(f"'{s}'" for s in sorted(states)) + ")"


WAITING = sql_in(WAITING_STATES)
ACTIVE = sql_in(ACTIVE_STATES)
TERMINAL = sql_in(TERMINAL_STATES)
EDITABLE = sql_in(EDITABLE_STATES)
UNFINISHED_COUNTS = (
    f"SELECT worker, status, count(*) FROM tasks WHERE status NOT IN {TERMINAL}"
    " GROUP BY worker, status ORDER BY worker, status"
)


INSERT_COLUMNS = (
    "id, worker, status, config, execute_at, created_at, max_retries, retry_backoff, timeout,"
    " schedule_id, idempotency_key"
)


def insert_task_sql(mark: str) -> str:
    """``INSERT`` of the ``insert_rows`` values; ``mark`` is the driver's placeholder."""
    marks = ", ".join([mark] * len(INSERT_COLUMNS.split(",")))
    return f"INSERT INTO tasks ({INSERT_COLUMNS}) VALUES ({marks})"


def insert_rows(tasks: list[NewTask]) -> list[tuple]:
    """The values of ``INSERT_COLUMNS`` for each new task. Each config object is encoded
    once: the tasks of a batch share one per distinct config."""
    encoded: dict[int, str] = {}
    rows = []
    for new in tasks:
        config = encoded.get(id(new.config))
        if config is None:
            config = encoded[id(new.config)] = json.dumps(new.config)
        rows.append(
            (
                new.id,
                new.worker,
                new.status.value,
                config,
                new.execute_at,
                new.created_at,
                new.max_retries,
                new.retry_backoff,
                new.timeout,
                new.schedule_id,
                new.idempotency_key,
            )
        )
    return rows


def in_due_order(tasks: Iterable[Task]) -> list[Task]:
    """Claimed tasks in the order they are due (RETURNING follows no order)."""
    return sorted(tasks, key=lambda task: (task.execute_at, task.id))


def task_from_row(row: tuple) -> Task:
    (
        id_,
        worker,
        status,
        config,
        execute_at,
        created_at,
        started_at,
        finished_at,
        attempts,
        max_retries,
        retry_backoff,
        timeout,
        schedule_id,
        idempotency_key,
        error,
        output,
        output_truncated,
        owner,
        lease_until,
        lateness,
        queued_for,
        ran_for,
    ) = row
    return Task(
        id=id_,
        worker=worker,
        status=TaskState(status),
        config=json.loads(config),
        execute_at=execute_at,
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
        attempts=attempts,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
        timeout=timeout,
        schedule_id=schedule_id,
        idempotency_key=idempotency_key,
        error=error,
        output=None if output is None else json.loads(output),
        output_truncated=bool(output_truncated),
        owner=owner,
        lease_until=lease_until,
        lateness=lateness,
        queued_for=queued_for,
        ran_for=ran_for,
    )


SCHEDULE_COLUMNS = (
    "id, worker, config, cron, interval_seconds, timezone, status, next_run_at, created_at,"
    " overlap, misfire, start_at, end_at, last_run_at, last_task_id, runs, timeout,"
    " max_retries, retry_backoff"
)
SCHEDULE_FIELDS = {
    "worker",
    "config",
    "cron",
    "interval",
    "timezone",
    "status",
    "next_run_at",
    "overlap",
    "misfire",
    "start_at",
    "end_at",
    "timeout",
    "max_retries",
    "retry_backoff",
}


def schedule_from_row(row: tuple) -> Schedule:
    (
        id_,
        worker,
        config,
        cron,
        interval,
        timezone,
        status,
        next_run_at,
        created_at,
        overlap,
        misfire,
        start_at,
        end_at,
        last_run_at,
        last_task_id,
        runs,
        timeout,
        max_retries,
        retry_backoff,
    ) = row
    return Schedule(
        id=id_,
        worker=worker,
        config=json.loads(config),
        cron=cron,
        interval=interval,
        timezone=timezone,
        status=ScheduleState(status),
        next_run_at=next_run_at,
        created_at=created_at,
        overlap=overlap,
        misfire=misfire,
        start_at=start_at,
        end_at=end_at,
        last_run_at=last_run_at,
        last_task_id=last_task_id,
        runs=runs,
        timeout=timeout,
        max_retries=max_retries,
        retry_backoff=retry_backoff,
    )


def schedule_params(fields: dict[str, Any]) -> dict[str, Any]:
    """Schedule fields as column values."""
    params = {}
    for name, value in fields.items():
        if name == "config":
            value = json.dumps(value)
        elif name == "status":
            value = str(value)
        params["interval_seconds" if name == "interval" else name] = value
    return params


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


@dataclass(frozen=True)
class KeysetPage:
    """A newest-first page: the query for one row more than the page holds, and how to read
    its answer. ``mark`` is the driver's placeholder (``?`` or ``%s``)."""

    sql: str
    params: tuple
    limit: int

    @classmethod
    def of(
        cls,
        columns: str,
        table: str,
        equal: dict[str, Any],
        cursor: str | None,
        limit: int,
        mark: str,
    ) -> KeysetPage:
        where = {column: str(value) for column, value in equal.items() if value is not None}
        clauses = [f"{column} = {mark}" for column in where]
        params = list(where.values())
        if cursor is not None:
            clauses.append(f"id < {mark}")
            params.append(decode_cursor(cursor))
        sql = f"SELECT {columns} FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return cls(f"{sql} ORDER BY id DESC LIMIT {mark}", (*params, limit + 1), limit)

    def read(self, rows: list[tuple], from_row: Callable[[tuple], Any]) -> tuple[list, str | None]:
        """The page's items and the cursor of the next page (None on the last one)."""
        items = [from_row(row) for row in rows[: self.limit]]
        return items, encode_cursor(items[-1].id) if len(rows) > self.limit else None


RUNNER_COLUMNS = "id, host, pid, started_at, heartbeat_at, workers, running"


def runner_row(runner: RunnerInfo) -> tuple:
    """The values of ``RUNNER_COLUMNS`` for a heartbeat."""
    return (
        runner.id,
        runner.host,
        runner.pid,
        runner.started_at,
        runner.heartbeat_at,
        json.dumps(runner.workers),
        json.dumps(runner.running),
    )


def runner_from_row(row: tuple) -> RunnerInfo:
    id_, host, pid, started_at, heartbeat_at, workers, running = row
    return RunnerInfo(
        id=id_,
        host=host,
        pid=pid,
        started_at=started_at,
        heartbeat_at=heartbeat_at,
        workers=json.loads(workers),
        running=json.loads(running),
    )


def heartbeat_sql(mark: str) -> str:
    """Upsert of a runner's row; ``mark`` is the driver's placeholder."""
    marks = ", ".join([mark] * len(RUNNER_COLUMNS.split(",")))
    return (
        f"INSERT INTO runners ({RUNNER_COLUMNS}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE"
        f" SET heartbeat_at = excluded.heartbeat_at, workers = excluded.workers,"
        f" running = excluded.running"
    )


def renew_sql(mark: str) -> str:
    """The lease renewal: its RETURNING rows are the (id, status) the owner still holds."""
    return (
        f"UPDATE tasks SET lease_until = {mark} WHERE owner = {mark} AND status IN {ACTIVE}"
        f" RETURNING id, status"
    )


def lease_report(held: Iterable[str], still_held: Iterable[tuple[str, str]]) -> LeaseReport:
    """What a renewal's rows say of the tasks a runner believes it holds."""
    statuses = dict(still_held)
    return LeaseReport(
        lost=frozenset(task_id for task_id in held if task_id not in statuses),
        canceling=frozenset(i for i, status in statuses.items() if status == "canceling"),
    )
