"""What both SQL stores share: column lists, row conversions, state sets as SQL, cursors.

The two databases hold the same columns with the same meaning, so a row reads the same way
from either. Each table's columns are those of its model's fields, in their order: a row is
the model's positional arguments once a few columns are decoded (:class:`Columns`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Generic, TypeVar

from tasky import jsontext
from tasky.errors import InvalidInput
from tasky.models import (
    ACTIVE_STATES,
    EDITABLE_STATES,
    TERMINAL_STATES,
    WAITING_STATES,
    Chain,
    LeaseReport,
    NewTask,
    Outcome,
    RunIf,
    RunnerInfo,
    Schedule,
    ScheduleState,
    Task,
    TaskState,
)
from tasky.refs import has_references

M = TypeVar("M")
T = TypeVar("T")


def json_or_none(text: str | None) -> Any:
    return None if text is None else jsontext.loads(text)


class Columns(Generic[M]):
    """A table's columns, one per field of ``model`` in the fields' order (``renamed`` maps a
    field to a column of another name), and the reading of a row of them into the model.
    ``decode`` maps a field to the function of its stored value."""

    def __init__(
        self,
        model: type[M],
        decode: Mapping[str, Callable[[Any], Any]],
        renamed: Mapping[str, str] | None = None,
        encode: Mapping[str, Callable[[Any], Any]] | None = None,
    ):
        self.model = model
        self._encode = encode or {}
        self.fields = tuple(field.name for field in fields(model))  # type: ignore[arg-type]
        renamed = renamed or {}
        self.names = tuple(renamed.get(name, name) for name in self.fields)
        self.sql = ", ".join(self.names)
        self.width = len(self.names)
        self._decode = [(self.fields.index(name), fn) for name, fn in decode.items()]

    def from_row(self, row: tuple) -> M:
        """The model of a row whose first columns are these (later ones, such as a
        notification's, are ignored)."""
        values = list(row[: self.width])
        for index, decode in self._decode:
            values[index] = decode(values[index])
        return self.model(*values)

    def to_row(self, item: M) -> tuple:
        """The column values of a model (those ``encode`` names encoded)."""
        return tuple(
            self._encode[name](getattr(item, name)) if name in self._encode else getattr(item, name)
            for name in self.fields
        )

    def select(self, replaced: Mapping[str, str]) -> str:
        """The column list with some columns read as other expressions."""
        return ", ".join(replaced.get(name, name) for name in self.names)


TASK = Columns(
    Task,
    {
        "status": TaskState,
        "config": jsontext.loads,
        "output": json_or_none,
        "output_truncated": bool,
        "depends_on": json_or_none,
        "run_if": lambda value: None if value is None else RunIf(value),
        "config_template": json_or_none,
    },
)
TASK_COLUMNS = TASK.sql
LIST_COLUMNS = TASK.select(
    {"config": "'{}'", "output": "NULL", "depends_on": "NULL", "config_template": "NULL"}
)
"""A list page's columns: its items carry no ``config``, ``output`` or parents (a child of
a thousand parents lists them all)."""
task_from_row = TASK.from_row

SCHEDULE = Columns(
    Schedule,
    {"config": jsontext.loads, "status": ScheduleState, "chain": json_or_none},
    renamed={"interval": "interval_seconds"},
)
SCHEDULE_COLUMNS = SCHEDULE.sql
schedule_from_row = SCHEDULE.from_row
SCHEDULE_FIELDS = set(SCHEDULE.fields) - {"id", "created_at", "last_run_at", "last_task_id", "runs"}
"""The fields a schedule is created with and may change; the others are the store's."""

CHAIN = Columns(Chain, {})
CHAIN_COLUMNS = CHAIN.sql
chain_from_row = CHAIN.from_row

RUNNER = Columns(
    RunnerInfo,
    {"workers": jsontext.loads, "running": jsontext.loads},
    encode={"workers": jsontext.dumps, "running": jsontext.dumps},
)
RUNNER_COLUMNS = RUNNER.sql
runner_from_row = RUNNER.from_row


CHUNK = 500
"""Ids per ``IN (...)`` list: far below either database's limit of parameters."""


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(ids: Sequence[str]) -> str:
    return "(" + ", ".join(["%s"] * len(ids)) + ")"


def sql_in(states: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{s}'" for s in sorted(states)) + ")"


WAITING = sql_in(WAITING_STATES)
ACTIVE = sql_in(ACTIVE_STATES)
TERMINAL = sql_in(TERMINAL_STATES)
EDITABLE = sql_in(EDITABLE_STATES)
NOT_TERMINAL = sql_in(set(TaskState) - TERMINAL_STATES)
NOT_STARTED = sql_in(EDITABLE_STATES | {TaskState.BLOCKED})

INSERT_FIELDS = (
    "id",
    "worker",
    "status",
    "execute_at",
    "created_at",
    "max_retries",
    "retry_backoff",
    "timeout",
    "schedule_id",
    "idempotency_key",
    "run_if",
    "chain_id",
    "step",
)
"""The fields of a new task that its row takes as they are; ``config``, ``depends_on`` and
``config_template`` (JSON) follow."""
INSERT_COLUMNS = ", ".join((*INSERT_FIELDS, "config", "depends_on", "config_template"))
_insert_values = attrgetter(*INSERT_FIELDS)


def insert_task_sql(mark: str) -> str:
    """``INSERT`` of the ``insert_rows`` values; ``mark`` is the driver's placeholder."""
    marks = ", ".join([mark] * (len(INSERT_FIELDS) + 3))
    return f"INSERT INTO tasks ({INSERT_COLUMNS}) VALUES ({marks})"


def insert_rows(tasks: list[NewTask]) -> list[tuple]:
    """The values of ``INSERT_COLUMNS`` for each new task. Each config object is encoded
    once: the tasks of a batch share one per distinct config."""
    encoded: dict[int, tuple[str, str | None]] = {}
    rows = []
    for new in tasks:
        config = encoded.get(id(new.config))
        if config is None:
            text = jsontext.dumps(new.config)
            config = encoded[id(new.config)] = (text, text if has_references(new.config) else None)
        depends_on = None if new.depends_on is None else jsontext.dumps(new.depends_on)
        rows.append((*_insert_values(new), config[0], depends_on, config[1]))
    return rows


RETRIES_LEFT = "attempts <= max_retries"
"""The retry rule, one for an attempt that failed and for one that a crash interrupted: the
task is tried again while its attempts do not exceed its retries."""


def retrying(wanted: str) -> str:
    """SQL true when an attempt's end, whose wanted state is the expression ``wanted``, sends
    the task back for a retry: it failed, no cancel came meanwhile, and retries are left."""
    return f"(status != 'canceling' AND {wanted} = 'failed' AND {RETRIES_LEFT})"


def ending(wanted: str, finished_at: str, retry_at: str) -> str:
    """The SET list of an attempt's end: a cancel that arrived meanwhile wins; a failure with
    retries left goes back to ``scheduled`` at ``retry_at``; otherwise the wanted state."""
    retry = retrying(wanted)
    return (
        f"status = CASE WHEN status = 'canceling' THEN 'canceled'"
        f" WHEN {retry} THEN 'scheduled' ELSE {wanted} END,"
        f" finished_at = CASE WHEN {retry} THEN NULL ELSE {finished_at} END,"
        f" execute_at = CASE WHEN {retry} THEN {retry_at} ELSE execute_at END"
    )


OUTCOME_COLUMNS = (
    "task_id, task_owner, attempt, new_status, new_finished_at, retry_at,"
    " new_output, new_output_truncated, new_error"
)
"""The columns of ``o``, the outcomes a FINISH statement ends, in the order of
``outcome_row``: named apart from the table's, which the statement reads unqualified."""


def finish_sql(outcomes: str, greatest: str) -> str:
    """The UPDATE that ends attempts, one per row of ``o`` (``outcomes``: the FROM item that
    names it), fenced by (id, owner, attempt): one statement for a batch of outcomes. The
    RETURNING list is the store's. ``greatest`` is the dialect's."""
    return (
        f"UPDATE tasks SET {ending('o.new_status', 'o.new_finished_at', 'o.retry_at')},"
        f" ran_for = ran_for + {greatest}(0, o.new_finished_at - started_at),"
        f" output = o.new_output, output_truncated = o.new_output_truncated,"
        f" error = o.new_error, owner = NULL, lease_until = NULL"
        f" FROM {outcomes}"
        f" WHERE id = o.task_id AND owner = o.task_owner AND attempts = o.attempt"
        f" AND status IN {ACTIVE}"
    )


def in_order_of(outcomes: list[Outcome], finished: list[Task]) -> list[Task]:
    """The finished tasks in the order of their outcomes (RETURNING follows no order), each
    matched by its attempt too, so that a stale outcome of a finished task is left out."""
    by_attempt = {(task.id, task.attempts): task for task in finished}
    return [
        by_attempt[key] for key in ((o.task_id, o.attempt) for o in outcomes) if key in by_attempt
    ]


def outcome_row(o: Outcome) -> tuple:
    """An attempt's end as each store's FINISH takes it: the fence (id, owner, attempt), then
    the wanted state and what is stored."""
    return (
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


def in_due_order(tasks: Iterable[Task]) -> list[Task]:
    """Claimed tasks in the order they are due (RETURNING follows no order)."""
    return sorted(tasks, key=lambda task: (task.execute_at, task.id))


def schedule_params(fields: dict[str, Any]) -> dict[str, Any]:
    """Schedule fields as column values."""
    params = {}
    for name, value in fields.items():
        column = "interval_seconds" if name == "interval" else name
        if name == "config" or (name == "chain" and value is not None):
            params[column] = jsontext.dumps(value)
        elif name == "status":
            params[column] = str(value)
        else:
            params[column] = value
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
    its answer, in psycopg's placeholders (``%s``)."""

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
    ) -> KeysetPage:
        where = {column: str(value) for column, value in equal.items() if value is not None}
        clauses = [f"{column} = %s" for column in where]
        params = list(where.values())
        if cursor is not None:
            clauses.append("id < %s")
            params.append(decode_cursor(cursor))
        sql = f"SELECT {columns} FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return cls(f"{sql} ORDER BY id DESC LIMIT %s", (*params, limit + 1), limit)

    def read(self, rows: list[tuple], from_row: Callable[[tuple], Any]) -> tuple[list, str | None]:
        """The page's items and the cursor of the next page (None on the last one)."""
        items = [from_row(row) for row in rows[: self.limit]]
        return items, encode_cursor(items[-1].id) if len(rows) > self.limit else None


def lease_report(held: Iterable[str], still_held: Iterable[tuple[str, str]]) -> LeaseReport:
    """What a renewal's rows say of the tasks a runner believes it holds."""
    statuses = dict(still_held)
    return LeaseReport(
        lost=frozenset(task_id for task_id in held if task_id not in statuses),
        canceling=frozenset(i for i, status in statuses.items() if status == "canceling"),
    )
