"""The statements of schedules, shared by both stores (a part of ``tasky.stores.sql``): the
store persists what the scheduler computes, and never reads a trigger."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tasky.chain_runs import ChainRun
from tasky.errors import ScheduleNotFound, StateConflict
from tasky.models import Chain, Firing, NewTask, Schedule, SchedulePage, ScheduleState, Task
from tasky.stores.rows import (
    NOT_STARTED,
    SCHEDULE,
    SCHEDULE_COLUMNS,
    SCHEDULE_FIELDS,
    TASK_COLUMNS,
    TERMINAL,
    KeysetPage,
    schedule_from_row,
    schedule_params,
    task_from_row,
)

if TYPE_CHECKING:
    from tasky.stores.dialect import Dialect
    from tasky.stores.sql import Changed


class ScheduleStatements:
    """Needs the connections and row helpers of ``SQLStore``."""

    if TYPE_CHECKING:
        dialect: Dialect

        def _reader(self) -> AbstractContextManager[Any]: ...

        def _write(self) -> AbstractContextManager[Any]: ...

        def _change(self, sql: str, params: Any = ()) -> Changed: ...

        def _read(self, sql: str, params: Any = ()) -> list[tuple]: ...

        def _execute(self, db: Any, sql: str, params: Any = ()) -> Any: ...

        def _wake(self, db: Any) -> None: ...

        def _insert_task(self, db: Any, new: NewTask) -> tuple[Task, bool]: ...

        def _insert_chain(self, db: Any, run: ChainRun) -> Chain | None: ...

        def _ended(self, db: Any, ended: Iterable[Task], now: float) -> None: ...

        def _enqueue_misfire(
            self, db: Any, schedule_id: str, due_at: float, run: Task | None, now: float
        ) -> None: ...

    def create_schedule(self, schedule: Schedule) -> Schedule:
        fields = {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}
        params = {**schedule_params(fields), "id": schedule.id, "created_at": schedule.created_at}
        values = ", ".join(f"%({column})s" for column in params)
        rows = self._change(
            f"INSERT INTO schedules ({', '.join(params)}) VALUES ({values})"
            f" RETURNING {self.dialect.returning(SCHEDULE, wake=True)}",
            params,
        ).rows
        return schedule_from_row(rows[0])

    def get_schedule(self, schedule_id: str) -> Schedule | None:
        rows = self._read(f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = %s", (schedule_id,))
        return schedule_from_row(rows[0]) if rows else None

    def list_schedules(self, limit: int, cursor: str | None) -> SchedulePage:
        page = KeysetPage.of(SCHEDULE_COLUMNS, "schedules", {}, cursor, limit)
        return SchedulePage(*page.read(self._read(page.sql, page.params), schedule_from_row))

    def update_schedule(
        self, schedule_id: str, changes: dict[str, Any], expect_status: ScheduleState | None = None
    ) -> Schedule:
        unknown = set(changes) - SCHEDULE_FIELDS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        params = schedule_params(changes)
        assignments = ", ".join(f"{column} = %({column})s" for column in params) or "id = id"
        condition = "" if expect_status is None else " AND status = %(expect_status)s"
        rows = self._change(
            f"UPDATE schedules SET {assignments} WHERE id = %(id)s{condition}"
            f" RETURNING {self.dialect.returning(SCHEDULE, wake=True)}",
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
            if not self._execute(
                db, "DELETE FROM schedules WHERE id = %s", (schedule_id,)
            ).rowcount:
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            rows = self._execute(
                db,
                f"UPDATE tasks SET status = 'canceled', finished_at = %s WHERE schedule_id = %s"
                f" AND status IN {NOT_STARTED} RETURNING {TASK_COLUMNS}",
                (now, schedule_id),
            ).fetchall()
            canceled = [task_from_row(row) for row in rows]
            self._ended(db, canceled, now)
        return canceled

    def next_schedule_due_at(self) -> float | None:
        return self._read("SELECT min(next_run_at) FROM schedules WHERE status = 'active'")[0][0]

    def due_schedules(self, due_before: float, limit: int) -> list[Schedule]:
        rows = self._read(
            f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE status = 'active'"
            f" AND next_run_at <= %s ORDER BY next_run_at LIMIT %s",
            (due_before, limit),
        )
        return [schedule_from_row(row) for row in rows]

    def fire_schedule(
        self,
        schedule_id: str,
        due_at: float,
        next_run_at: float | None,
        task: NewTask | ChainRun | None,
        now: float,
        skip_if_running: bool,
        misfired: bool = False,
    ) -> Firing:
        with self._write() as db:
            # Concurrent callers take turns on the row (PostgreSQL's row lock, SQLite's one
            # writer); once the winner commits, the others' condition no longer holds
            # (next_run_at moved on) and they update nothing.
            won = self._execute(
                db,
                "UPDATE schedules SET next_run_at = %s WHERE id = %s AND status = 'active'"
                " AND next_run_at = %s",
                (next_run_at, schedule_id, due_at),
            ).rowcount
            if not won:
                return Firing(False)
            self._wake(db)
            created = None
            if task is not None and not (
                skip_if_running and self._last_run_unfinished(db, schedule_id)
            ):
                created = self._record_run(db, schedule_id, task, now)
            if misfired:
                self._enqueue_misfire(db, schedule_id, due_at, created, now)
        return Firing(True, created)

    def run_schedule_now(self, schedule_id: str, task: NewTask | ChainRun, now: float) -> Task:
        with self._write() as db:
            # A row lock keeps a concurrent delete from leaving a run of a gone schedule.
            sql = f"SELECT 1 FROM schedules WHERE id = %s{self.dialect.lock_row}"
            if self._execute(db, sql, (schedule_id,)).fetchone() is None:
                raise ScheduleNotFound(f"no schedule {schedule_id!r}")
            created = self._record_run(db, schedule_id, task, now)
            self._wake(db)
            return created

    def _record_run(self, db: Any, schedule_id: str, task: NewTask | ChainRun, now: float) -> Task:
        if isinstance(task, ChainRun):
            self._insert_chain(db, task)
            sql = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s"
            created = task_from_row(self._execute(db, sql, (task.steps[0].id,)).fetchone())
        else:
            created, _ = self._insert_task(db, task)
        self._execute(
            db,
            "UPDATE schedules SET runs = runs + 1, last_run_at = %s, last_task_id = %s"
            " WHERE id = %s",
            (now, created.id, schedule_id),
        )
        return created

    def _last_run_unfinished(self, db: Any, schedule_id: str) -> bool:
        sql = (
            f"SELECT 1 FROM schedules s JOIN tasks t ON t.id = s.last_task_id"
            f" WHERE s.id = %s AND (t.status NOT IN {TERMINAL} OR EXISTS (SELECT 1 FROM tasks u"
            f" WHERE u.chain_id = t.chain_id AND u.status NOT IN {TERMINAL}))"
        )
        return self._execute(db, sql, (schedule_id,)).fetchone() is not None
