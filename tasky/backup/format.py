"""The export format: NDJSON, one JSON object a line.

The first line is the header::

    {"kind": "tasky-export", "format": 1, "tasky_version": "0.1.0", "store": "sqlite",
     "taken_at": "2026-12-01T22:40:00.123456Z", "counts": {"schedules": 2, "tasks": 1000}}

then one line per schedule (``"type": "schedule"``), then one per task (``"type": "task"``),
each with every stored field under the name of its model's field (``tasky.models``).
Instants in those lines are seconds since the epoch (UTC) as the store holds them, written
exactly (the shortest text that reads back as the same float): a restore is exact, and
costs no date parsing. ``config`` and ``output`` are JSON values.

Encoding a row is the hot loop of an export: each line is one ``%`` of a template, with no
dictionary and no JSON encoder per row. Decoding checks every field of a line and turns it
into the row a store inserts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from tasky import __version__
from tasky.errors import TaskyError
from tasky.models import Schedule, ScheduleState, Task, TaskState
from tasky.schedules import MISFIRE_POLICIES, OVERLAP_POLICIES

KIND = "tasky-export"
FORMAT = 1
MEDIA_TYPE = "application/x-ndjson"


class NotAnExport(TaskyError):
    """The body is not a Tasky export: its first line must be the export's header."""

    status_code = 400


class Rejected(ValueError):
    """One line that does not validate: the import skips it and reports why."""


# -- the header ---------------------------------------------------------------------------------


def header_line(store: str, taken_at: float, schedules: int, tasks: int) -> str:
    return (
        json.dumps(
            {
                "kind": KIND,
                "format": FORMAT,
                "tasky_version": __version__,
                "store": store,
                "taken_at": datetime.fromtimestamp(taken_at, UTC)
                .isoformat()
                .replace("+00:00", "Z"),
                "taken_at_epoch": taken_at,
                "counts": {"schedules": schedules, "tasks": tasks},
            }
        )
        + "\n"
    )


def read_header(line: bytes) -> dict[str, Any]:
    """The header of an export, checked: ``NotAnExport`` (400) when the first line is not
    one, ``UnsupportedFormat`` (422) when it is of a format this version cannot read."""
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise NotAnExport() from None
    if not isinstance(header, dict) or header.get("kind") != KIND:
        raise NotAnExport()
    if header.get("format") != FORMAT:
        raise UnsupportedFormat(
            f"export format {header.get('format')!r} is not supported (this Tasky reads "
            f"format {FORMAT})",
            errors={"format": [f"Must be {FORMAT}."]},
        )
    taken_at = header.get("taken_at_epoch")
    if not _is_number(taken_at):
        raise NotAnExport("the export's header has no taken_at_epoch")
    return header


class UnsupportedFormat(TaskyError):
    """This version of Tasky cannot read that export format."""

    status_code = 422


# -- encoding: a stored row as a line ----------------------------------------------------------


class _Texts(dict):
    """The JSON text of values, remembered: many rows share a value (a batch's
    ``created_at``, ``retry_backoff`` 1, run times of 0, an owner, an error), and reading a
    remembered one costs a tenth of writing a float anew. ``None`` is ``null``. Bounded: past
    ``LIMIT`` values it starts over."""

    LIMIT = 20_000

    def __init__(self, write: Callable[[Any], str]):
        super().__init__({None: "null"})
        self.write = write

    def __missing__(self, value: Any) -> str:
        if len(self) > self.LIMIT:
            self.clear()
            self[None] = "null"
        text = self[value] = self.write(value)
        return text


def _float_text(value: float) -> str:
    return format(value, ".17g")  # exact: 17 significant digits read back as the same float


def _template(kind: str, model: type) -> str:
    names = [field.name for field in fields(model)]
    return '{"type":"' + kind + '",' + ",".join(f'"{name}":%s' for name in names) + "}\n"


_TASK = _template("task", Task)
_SCHEDULE = _template("schedule", Schedule)


def line_writers() -> tuple[Callable[[tuple], str], Callable[[tuple], str]]:
    """``(schedule_line, task_line)`` of one export, sharing the texts they remember: the
    line of a ``schedules`` row and of a ``tasks`` row (columns in the order of the model's
    fields)."""
    n, s = _Texts(_float_text), _Texts(_quote)
    return (lambda row: _schedule_line(row, n, s)), (lambda row: _task_line(row, n, s))


def _task_line(row: tuple, n: _Texts, s: _Texts) -> str:
    (
        id_, worker, status, config, execute_at, created_at, started_at, finished_at,
        attempts, max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error,
        output, output_truncated, owner, lease_until, lateness, queued_for, ran_for,
    ) = row  # fmt: skip
    return _TASK % (
        _quote(id_), s[worker], s[status], config, n[execute_at], n[created_at],
        n[started_at], n[finished_at], attempts, max_retries, n[retry_backoff], n[timeout],
        s[schedule_id], s[idempotency_key], s[error], "null" if output is None else output,
        "true" if output_truncated else "false", s[owner], n[lease_until], n[lateness],
        n[queued_for], n[ran_for],
    )  # fmt: skip


def _schedule_line(row: tuple, n: _Texts, s: _Texts) -> str:
    (
        id_, worker, config, cron, interval, timezone, status, next_run_at, created_at,
        overlap, misfire, start_at, end_at, last_run_at, last_task_id, runs, timeout,
        max_retries, retry_backoff,
    ) = row  # fmt: skip
    return _SCHEDULE % (
        _quote(id_), s[worker], config, s[cron], n[interval], s[timezone], s[status],
        n[next_run_at], n[created_at], s[overlap], s[misfire], n[start_at], n[end_at],
        n[last_run_at], s[last_task_id], runs, n[timeout], max_retries, n[retry_backoff],
    )  # fmt: skip


# -- decoding: a line as a row to insert -------------------------------------------------------

ID = re.compile(r"[0-9a-f]{32}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _instant(value: Any) -> float:
    if not _is_number(value):
        raise ValueError("must be seconds since the epoch (a number)")
    return float(value)


def _seconds(value: Any) -> float:
    if not _is_number(value) or value < 0:
        raise ValueError("must be a number of seconds, 0 or more")
    return float(value)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("must be an integer, 0 or more")
    return value


def _id(value: Any) -> str:
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise ValueError("must be a Tasky id (32 hex digits)")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _object(value: Any) -> str:
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    return json.dumps(value)


def _json(value: Any) -> str:
    return json.dumps(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _one_of(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(allowed)}")
        return value

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def maybe(value: Any) -> Any:
        return None if value is None else check(value)

    return maybe


TASK_FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": _id,
    "worker": _text,
    "status": _one_of(*TaskState),
    "config": _object,
    "execute_at": _instant,
    "created_at": _instant,
    "started_at": _optional(_instant),
    "finished_at": _optional(_instant),
    "attempts": _count,
    "max_retries": _count,
    "retry_backoff": _seconds,
    "timeout": _optional(_seconds),
    "schedule_id": _optional(_id),
    "idempotency_key": _optional(_text),
    "error": _optional(_text),
    "output": _optional(_json),
    "output_truncated": _flag,
    "owner": _optional(_text),
    "lease_until": _optional(_instant),
    "lateness": _optional(_seconds),
    "queued_for": _seconds,
    "ran_for": _seconds,
}
SCHEDULE_FIELDS: dict[str, Callable[[Any], Any]] = {
    "id": _id,
    "worker": _text,
    "config": _object,
    "cron": _optional(_text),
    "interval": _optional(_seconds),
    "timezone": _text,
    "status": _one_of(*ScheduleState),
    "next_run_at": _optional(_instant),
    "created_at": _instant,
    "overlap": _one_of(*OVERLAP_POLICIES),
    "misfire": _one_of(*MISFIRE_POLICIES),
    "start_at": _optional(_instant),
    "end_at": _optional(_instant),
    "last_run_at": _optional(_instant),
    "last_task_id": _optional(_id),
    "runs": _count,
    "timeout": _optional(_seconds),
    "max_retries": _count,
    "retry_backoff": _seconds,
}


def _defaults(model: type) -> dict[str, Any]:
    """The stored value of each field a line may leave out: the model's default."""
    checks = TASK_FIELDS if model is Task else SCHEDULE_FIELDS
    return {
        f.name: checks[f.name](f.default) if f.default is not None else None
        for f in fields(model)
        if f.default is not MISSING
    }


KINDS = {
    "task": (list(TASK_FIELDS.items()), _defaults(Task)),
    "schedule": (list(SCHEDULE_FIELDS.items()), _defaults(Schedule)),
}


def parse_line(line: bytes) -> tuple[str, tuple]:
    """``("task" | "schedule", row)``: the row to insert, its values in the order of the
    model's fields and in the store's types (``config`` and ``output`` as JSON text).
    Raises ``Rejected`` with the reason."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Rejected("not a JSON object") from None
    if not isinstance(record, dict):
        raise Rejected("not a JSON object")
    kind = record.pop("type", None)
    if kind not in KINDS:
        raise Rejected('"type" must be "schedule" or "task"')
    checks, defaults = KINDS[kind]
    values = []
    for name, check in checks:
        if name in record:
            try:
                values.append(check(record.pop(name)))
            except (ValueError, TypeError) as exc:
                raise Rejected(f"{name}: {exc}") from None
        elif name in defaults:
            values.append(defaults[name])
        else:
            raise Rejected(f"{name}: missing")
    if record:
        raise Rejected(f"unknown field: {', '.join(sorted(record))}")
    return kind, tuple(values)
