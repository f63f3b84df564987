"""The export format: NDJSON, one JSON object a line.

The first line is the header::

    {"kind": "tasky-export", "format": 1, "tasky_version": "0.1.0", "store": "sqlite",
     "taken_at": "2026-12-01T22:40:00.123456Z", "taken_at_epoch": 1796164800.123456,
     "counts": {"chains": 1, "schedules": 2, "tasks": 1000}}

then one line per chain (``"type": "chain"``), per schedule (``"type": "schedule"``), then
one per task (``"type": "task"``),
each with every stored field under the name of its model's field (``tasky.models``).
Instants and durations in those lines are seconds (instants since the epoch, UTC) as the
store holds them, written exactly (17 significant digits read back as the same float): a
restore is exact, and costs no date parsing. ``config`` and ``output`` are JSON values.

Encoding a row is the hot loop of an export: each line is one ``%`` of a template, with no
dictionary and no JSON encoder per row. Decoding checks every field of a line and turns it
into the row a store inserts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from operator import itemgetter
from typing import Any

from tasky import __version__
from tasky.errors import TaskyError
from tasky.models import Chain, FailurePolicy, RunIf, Schedule, ScheduleState, Task, TaskState
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


def header_line(store: str, taken_at: float, chains: int, schedules: int, tasks: int) -> str:
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
                "counts": {"chains": chains, "schedules": schedules, "tasks": tasks},
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


@dataclass(frozen=True)
class Kind:
    """What a field holds: its check (which converts the value to the store's type, or
    raises ``ValueError`` with the reason), and the types that check may accept."""

    check: Callable[[Any], Any]
    types: tuple[type, ...]
    number: bool = False
    non_negative: bool = False


ID_ = Kind(_id, (str,))
TEXT = Kind(_text, (str,))
INSTANT = Kind(_instant, (int, float), number=True)
SECONDS = Kind(_seconds, (int, float), number=True, non_negative=True)
COUNT = Kind(_count, (int,), number=True, non_negative=True)
FLAG = Kind(_flag, (bool,))
OBJECT = Kind(_object, (dict,))
JSON = Kind(_json, (object,))


def one_of(*allowed: str) -> Kind:
    return Kind(_one_of(*allowed), (str,))


TASK_FIELDS: dict[str, tuple[Kind, bool]] = {  # name: (kind, nullable)
    "id": (ID_, False),
    "worker": (TEXT, False),
    "status": (one_of(*TaskState), False),
    "config": (OBJECT, False),
    "execute_at": (INSTANT, False),
    "created_at": (INSTANT, False),
    "started_at": (INSTANT, True),
    "finished_at": (INSTANT, True),
    "attempts": (COUNT, False),
    "max_retries": (COUNT, False),
    "retry_backoff": (SECONDS, False),
    "timeout": (SECONDS, True),
    "schedule_id": (ID_, True),
    "idempotency_key": (TEXT, True),
    "error": (TEXT, True),
    "output": (JSON, True),
    "output_truncated": (FLAG, False),
    "owner": (TEXT, True),
    "lease_until": (INSTANT, True),
    "lateness": (SECONDS, True),
    "queued_for": (SECONDS, False),
    "ran_for": (SECONDS, False),
    "depends_on": (JSON, True),
    "run_if": (one_of(*RunIf), True),
    "skip_reason": (TEXT, True),
    "chain_id": (ID_, True),
    "step": (TEXT, True),
    "config_template": (OBJECT, True),
}
SCHEDULE_FIELDS: dict[str, tuple[Kind, bool]] = {
    "id": (ID_, False),
    "worker": (TEXT, False),
    "config": (OBJECT, False),
    "cron": (TEXT, True),
    "interval": (SECONDS, True),
    "timezone": (TEXT, False),
    "status": (one_of(*ScheduleState), False),
    "next_run_at": (INSTANT, True),
    "created_at": (INSTANT, False),
    "overlap": (one_of(*OVERLAP_POLICIES), False),
    "misfire": (one_of(*MISFIRE_POLICIES), False),
    "start_at": (INSTANT, True),
    "end_at": (INSTANT, True),
    "last_run_at": (INSTANT, True),
    "last_task_id": (ID_, True),
    "runs": (COUNT, False),
    "timeout": (SECONDS, True),
    "max_retries": (COUNT, False),
    "retry_backoff": (SECONDS, False),
    "chain": (OBJECT, True),
}
CHAIN_FIELDS: dict[str, tuple[Kind, bool]] = {
    "id": (ID_, False),
    "name": (TEXT, True),
    "failure_policy": (one_of(*FailurePolicy), False),
    "created_at": (INSTANT, False),
    "idempotency_key": (TEXT, True),
    "canceled_at": (INSTANT, True),
}
_INF = float("inf")


class _Record:
    """How a line of one kind is read: each field checked in turn (the slow path, which
    names what is wrong), or, for a line that is whole and well typed, the same checks by
    kind over all fields at once (the fast path, the import's hot loop)."""

    def __init__(self, model: type, spec: dict[str, tuple[Kind, bool]]):
        self.names = [f.name for f in fields(model)]
        assert self.names == list(spec), "the spec lists the model's fields, in order"
        self._values = itemgetter(*self.names)
        kinds = [spec[name] for name in self.names]
        self.checks = [_optional(k.check) if null else k.check for k, null in kinds]
        self.defaults = {
            f.name: None if f.default is None else check(f.default)
            for f, check in zip(fields(model), self.checks, strict=True)
            if f.default is not MISSING
        }
        self.types = [k.types + ((type(None),) if null else ()) for k, null in kinds]
        self.numbers = [(i, k.non_negative, k is not COUNT) for i, (k, _) in enumerate(kinds)
                        if k.number]  # fmt: skip
        self.strings = [(i, k.check) for i, (k, _) in enumerate(kinds)
                        if str in k.types]  # fmt: skip
        self.encoded = [i for i, (k, _) in enumerate(kinds) if k in (OBJECT, JSON)]

    def read(self, record: dict[str, Any]) -> tuple:
        return self._fast(record) or self._checked(record)

    def _fast(self, record: dict[str, Any]) -> tuple | None:
        """The row, or None when anything is off: the slow path then says what."""
        if len(record) != len(self.names):
            return None
        try:
            values = list(self._values(record))
        except KeyError:
            return None
        if not all(map(isinstance, values, self.types)):
            return None
        for i, non_negative, to_float in self.numbers:
            v = values[i]
            if v is None:
                continue
            if type(v) is bool or not -_INF < v < _INF or (non_negative and v < 0):
                return None
            if to_float and type(v) is int:
                values[i] = float(v)
        try:
            for i, check in self.strings:  # ids, names, states: cheap checks of text
                if values[i] is not None:
                    check(values[i])
        except ValueError:
            return None
        for i in self.encoded:
            if values[i] is not None:
                values[i] = json.dumps(values[i])
        return tuple(values)

    def _checked(self, record: dict[str, Any]) -> tuple:
        values = []
        for name, check in zip(self.names, self.checks, strict=True):
            if name in record:
                try:
                    values.append(check(record.pop(name)))
                except (ValueError, TypeError) as exc:
                    raise Rejected(f"{name}: {exc}") from None
            elif name in self.defaults:
                values.append(self.defaults[name])
            else:
                raise Rejected(f"{name}: missing")
        if record:
            raise Rejected(f"unknown field: {', '.join(sorted(record))}")
        return tuple(values)


KINDS = {
    "task": _Record(Task, TASK_FIELDS),
    "schedule": _Record(Schedule, SCHEDULE_FIELDS),
    "chain": _Record(Chain, CHAIN_FIELDS),
}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def parse_line(line: bytes) -> tuple[str, tuple]:
    """``("task" | "schedule" | "chain", row)``: the row to insert, its values in the order of the
    model's fields and in the store's types (``config`` and ``output`` as JSON text).
    Raises ``Rejected`` with the reason."""
    try:
        record = _decode(line.decode())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Rejected("not a JSON object") from None
    if not isinstance(record, dict):
        raise Rejected("not a JSON object")
    kind = record.pop("type", None)
    if kind not in KINDS:
        raise Rejected('"type" must be "chain", "schedule" or "task"')
    return kind, KINDS[kind].read(record)


# -- encoding: a stored row as a line ----------------------------------------------------------

_float = "%.17g".__mod__  # exact: 17 significant digits read back as the same float


def _template(kind: str, model: type, spec: dict[str, tuple[Kind, bool]]) -> str:
    """The line's ``%`` template: a float that is never null is written by the template
    itself (``%.17g``, in C), every other value as the text given."""
    marks = [
        "%.17g" if spec[f.name][0] in (INSTANT, SECONDS) and not spec[f.name][1] else "%s"
        for f in fields(model)
    ]
    pairs = ",".join(f'"{f.name}":{mark}' for f, mark in zip(fields(model), marks, strict=True))
    return '{"type":"' + kind + '",' + pairs + "}\n"


_TASK = _template("task", Task, TASK_FIELDS)
_SCHEDULE = _template("schedule", Schedule, SCHEDULE_FIELDS)
_CHAIN = _template("chain", Chain, CHAIN_FIELDS)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def _json_or_null(value: str | None) -> str:
    """A column that holds JSON text, written as it is."""
    return "null" if value is None else value


def task_line(row: tuple) -> str:
    """The line of a ``tasks`` row (its columns in ``Task``'s field order)."""
    (
        id_, worker, status, config, execute_at, created_at, started_at, finished_at,
        attempts, max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error,
        output, output_truncated, owner, lease_until, lateness, queued_for, ran_for,
        depends_on, run_if, skip_reason, chain_id, step, config_template,
    ) = row  # fmt: skip
    return _TASK % (
        _quote(id_), _quote(worker), _quote(status), config, execute_at, created_at,
        "null" if started_at is None else _float(started_at),
        "null" if finished_at is None else _float(finished_at),
        attempts, max_retries, retry_backoff, "null" if timeout is None else _float(timeout),
        "null" if schedule_id is None else _quote(schedule_id),
        "null" if idempotency_key is None else _quote(idempotency_key),
        "null" if error is None else _quote(error), "null" if output is None else output,
        "true" if output_truncated else "false", "null" if owner is None else _quote(owner),
        "null" if lease_until is None else _float(lease_until),
        "null" if lateness is None else _float(lateness), queued_for, ran_for,
        _json_or_null(depends_on), _text_or_null(run_if), _text_or_null(skip_reason),
        _text_or_null(chain_id), _text_or_null(step), _json_or_null(config_template),
    )  # fmt: skip


def schedule_line(row: tuple) -> str:
    """The line of a ``schedules`` row (its columns in ``Schedule``'s field order)."""
    (
        id_, worker, config, cron, interval, timezone, status, next_run_at, created_at,
        overlap, misfire, start_at, end_at, last_run_at, last_task_id, runs, timeout,
        max_retries, retry_backoff, chain,
    ) = row  # fmt: skip
    return _SCHEDULE % (
        _quote(id_), _quote(worker), config, "null" if cron is None else _quote(cron),
        "null" if interval is None else _float(interval), _quote(timezone), _quote(status),
        "null" if next_run_at is None else _float(next_run_at), created_at, _quote(overlap),
        _quote(misfire), "null" if start_at is None else _float(start_at),
        "null" if end_at is None else _float(end_at),
        "null" if last_run_at is None else _float(last_run_at),
        "null" if last_task_id is None else _quote(last_task_id), runs,
        "null" if timeout is None else _float(timeout), max_retries, retry_backoff,
        _json_or_null(chain),
    )  # fmt: skip


def chain_line(row: tuple) -> str:
    """The line of a ``chains`` row (its columns in ``Chain``'s field order)."""
    id_, name, failure_policy, created_at, idempotency_key, canceled_at = row
    return _CHAIN % (
        _quote(id_), _text_or_null(name), _quote(failure_policy), created_at,
        _text_or_null(idempotency_key),
        "null" if canceled_at is None else _float(canceled_at),
    )  # fmt: skip
