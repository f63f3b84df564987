"""The statements behind the dashboard, in both databases: the live feed, the counts and the
activity of the overview, and bulk actions on a filtered query (one statement per page of
tasks). :class:`DashboardSQL` is a part of :class:`tasky.stores.sql.SQLStore`."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tasky.bulk import BULK_ACTIONS
from tasky.models import Task, TaskFilter
from tasky.stores.rows import ACTIVE, LIST_COLUMNS, TASK, TERMINAL, sql_in, task_from_row

if TYPE_CHECKING:
    from tasky.stores.dialect import Dialect
    from tasky.stores.sql import Changed

BULK_CHANGES = {
    "cancel": (
        "status = CASE WHEN status = 'running' THEN 'canceling' ELSE 'canceled' END,"
        " finished_at = CASE WHEN status = 'running' THEN NULL ELSE %(now)s END"
    ),
    "pause": "status = 'paused'",
    "resume": "status = CASE WHEN execute_at <= %(now)s THEN 'queued' ELSE 'scheduled' END",
    "run": "status = 'queued', execute_at = %(now)s",
}
"""What each bulk action sets; ``tasky.bulk.BULK_ACTIONS`` names the states it applies to."""


def _matching(filters: TaskFilter, params: dict[str, Any]) -> list[str]:
    """The WHERE clauses of a task filter; its values go into ``params``."""
    clauses = []
    for column in ("status", "worker", "schedule_id"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = %({column})s")
            params[column] = str(value)
    return clauses


class DashboardSQL:
    """Needs ``_read``, ``_change``, ``_write``, ``_execute``, ``_ended`` and ``dialect`` from
    ``SQLStore``."""

    if TYPE_CHECKING:
        dialect: Dialect

        def _read(self, sql: str, params: Any = ()) -> list[tuple]: ...

        def _change(self, sql: str, params: Any = ()) -> Changed: ...

        def _write(self) -> AbstractContextManager[Any]: ...

        def _execute(self, db: Any, sql: str, params: Any = ()) -> Any: ...

        def _ended(self, db: Any, ended: Iterable[Task], now: float) -> None: ...

    def live_tasks(self, finished_after: float, limit: int) -> list[Task]:
        # Three index reads in one statement: the running tasks (bounded by the runners'
        # slots), the latest finished ones, and the newest task.
        sql = (
            f"SELECT {LIST_COLUMNS} FROM tasks WHERE status IN {ACTIVE}"
            f" UNION ALL SELECT * FROM (SELECT {LIST_COLUMNS} FROM tasks"
            f"   WHERE finished_at >= %s ORDER BY finished_at DESC LIMIT %s) AS finished"
            f" UNION ALL SELECT * FROM (SELECT {LIST_COLUMNS} FROM tasks"
            f"   ORDER BY id DESC LIMIT 1) AS newest"
        )
        return [task_from_row(row) for row in self._read(sql, (finished_after, limit))]

    def task_counts(self) -> dict[tuple[str, str], int]:
        rows = self._read("SELECT worker, status, count(*) FROM tasks GROUP BY worker, status")
        return {(worker, status): count for worker, status, count in rows}

    def finished_since(self, since: float, limit: int) -> list[tuple[str, float, float | None]]:
        sql = (
            f"SELECT status, finished_at, lateness FROM tasks"
            f" WHERE finished_at >= %s AND status IN {TERMINAL}"
            f" ORDER BY finished_at DESC LIMIT %s"
        )
        return [tuple(row) for row in self._read(sql, (since, limit))]

    def count_matching(
        self, filters: TaskFilter, max_id: str | None
    ) -> tuple[dict[str, int], str | None]:
        params: dict[str, Any] = {}
        clauses = _matching(filters, params)
        if max_id is not None:
            clauses.append("id <= %(max_id)s")
            params["max_id"] = max_id
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT status, count(*), max(id) FROM tasks{where} GROUP BY status", params
        )
        newest = max((row[2] for row in rows), default=None)
        return {status: count for status, count, _ in rows}, newest

    def act_on_matching(
        self,
        filters: TaskFilter,
        action: str,
        max_id: str,
        before_id: str | None,
        limit: int,
        now: float,
    ) -> list[Task]:
        params: dict[str, Any] = {"max_id": max_id, "limit": limit, "now": now}
        clauses = [*_matching(filters, params), "id <= %(max_id)s"]
        allowed = f"status IN {sql_in(BULK_ACTIONS[action])}"
        clauses.append(allowed)
        if before_id is not None:
            clauses.append("id < %(before_id)s")
            params["before_id"] = before_id
        page = (
            f"SELECT id FROM tasks WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT %(limit)s"
        )
        # The state is checked again on the row being changed: PostgreSQL re-reads a row that
        # a runner changed meanwhile (claimed, finished) and then leaves it alone.
        where = f"id IN ({page}) AND {allowed}"
        if action == "delete":
            sql = f"DELETE FROM tasks WHERE {where} RETURNING {TASK.sql}"
            return [task_from_row(row) for row in self._change(sql, params).rows]
        sql = (
            f"UPDATE tasks SET {BULK_CHANGES[action]} WHERE {where}"
            f" RETURNING {self.dialect.returning(TASK, wake=action != 'pause')}"
        )
        # Tasks a cancel ends settle as one canceled alone does, in the same transaction:
        # their webhook events are stored and their blocked children released or skipped.
        with self._write() as db:
            changed = [task_from_row(row) for row in self._execute(db, sql, params).fetchall()]
            self._ended(db, changed, now)
        return changed
