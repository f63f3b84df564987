"""The export format: NDJSON, one JSON object a line.

The first line is the header::

    {"kind": "tasky-export", "format": 1, "tasky_version": "0.1.0", "store": "sqlite",
     "taken_at": "2026-12-01T22:40:00.123456Z", "taken_at_epoch": 1796164800.123456,
     "counts": {"chains": 1, "schedules": 2, "tasks": 1000}}

then one line per chain (``"type": "chain"``), per schedule (``"type": "schedule"``), then
one per task (``"type": "task"``),
each with every stored field under the name of its model's field (``tasky.models``).
Instants and durations in those lines are seconds (instants since the epoch, UTC) as the
store holds them, written exactly (the shortest digits that read back as the same float): a
restore is exact, and costs no date parsing. ``config`` and ``output`` are JSON values.

Writing and reading lines are the hot loops of an export and an import: orjson does both
(``Writer``, ``parse_line``), with the stored JSON text put in lines as it is, and each
field's checks made by kind over the whole line at once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson

from tasky import __version__, jsontext
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
    return jsontext.dumps(value)


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
    raises ``ValueError`` with the reason), and the types of JSON values that check may
    accept (exactly those types: ``bool`` is no number)."""

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
JSON = Kind(jsontext.dumps, (dict, list, str, int, float, bool))


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


class _Record:
    """How a line of one kind is read: each field checked in turn (``checked``, the slow
    path, which names what is wrong), or, for a line that is whole and well typed, the same
    checks by kind over all fields at once (``fast``, the import's hot loop)."""

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
        self.types = [frozenset(k.types + ((type(None),) if null else ())) for k, null in kinds]
        self.non_negative = [i for i, (k, _) in enumerate(kinds) if k.non_negative]
        self.floats = [i for i, (k, _) in enumerate(kinds) if k.number and k is not COUNT]
        assert len(self.floats) > 1, "an itemgetter of several indices gives a tuple"
        self._float_types = itemgetter(*self.floats)
        self.strings = [(i, k.check) for i, (k, _) in enumerate(kinds)
                        if str in k.types]  # fmt: skip
        self.encoded = [i for i, (k, _) in enumerate(kinds) if k in (OBJECT, JSON)]

    def fast(self, record: dict[str, Any]) -> tuple | None:
        """The row, or None when anything is off: the slow path then says what. The values
        are as orjson reads them, which has no NaN or infinity."""
        if len(record) != len(self.names):
            return None
        try:
            values = list(self._values(record))
        except KeyError:
            return None
        types = list(map(type, values))
        if not all(map(frozenset.__contains__, self.types, types)):
            return None
        for i in self.non_negative:
            v = values[i]
            if v is not None and v < 0:
                return None
        if int in self._float_types(types):  # an integer where a float is stored
            for i in self.floats:
                if types[i] is int:
                    values[i] = float(values[i])
        try:
            for i, check in self.strings:  # ids, names, states: cheap checks of text
                if values[i] is not None:
                    check(values[i])
        except ValueError:
            return None
        for i in self.encoded:
            if values[i] is not None:
                values[i] = text = jsontext.dumps(values[i])
                if "e+" in text:  # a large number: perhaps an integer orjson read as a float
                    return None
        return tuple(values)

    def checked(self, record: dict[str, Any]) -> tuple:
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


MODELS: dict[str, tuple[type, dict[str, tuple[Kind, bool]]]] = {
    "task": (Task, TASK_FIELDS),
    "schedule": (Schedule, SCHEDULE_FIELDS),
    "chain": (Chain, CHAIN_FIELDS),
}
KINDS = {kind: _Record(model, spec) for kind, (model, spec) in MODELS.items()}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def parse_line(line: bytes) -> tuple[str, tuple]:
    """``("task" | "schedule" | "chain", row)``: the row to insert, its values in the order of the
    model's fields and in the store's types (``config`` and ``output`` as JSON text).
    Raises ``Rejected`` with the reason.

    A line is read by orjson and checked by the fast path; one that either refuses is read
    again by the standard library and checked field by field, which says what is wrong. So
    JSON's rules decide what a line may hold, not orjson's: integers beyond 64 bits (orjson
    reads them as floats, hence the fast path's care with large numbers) and lone
    surrogates (which it refuses) read as they always did."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        record = None
    if type(record) is dict:
        kind = record.pop("type", None)
        if type(kind) is str and kind in KINDS:
            row = KINDS[kind].fast(record)
            if row is not None:
                return kind, row
    return _checked_line(line)


def _checked_line(line: bytes) -> tuple[str, tuple]:
    try:
        record = _decode(line.decode())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Rejected("not a JSON object") from None
    if not isinstance(record, dict):
        raise Rejected("not a JSON object")
    kind = record.pop("type", None)
    if not isinstance(kind, str) or kind not in KINDS:
        raise Rejected('"type" must be "chain", "schedule" or "task"')
    return kind, KINDS[kind].checked(record)


# -- encoding: a stored row as a line ----------------------------------------------------------


class Writer:
    """Writes the rows of one kind (each in its model's field order, as the store holds
    them) as lines. orjson writes each line in one call: floats in their shortest form that
    reads back as the same float, text as UTF-8; the columns that hold JSON text go in as they
    are (``orjson.Fragment``), a flag as ``true``/``false`` (SQLite holds 0 or 1).

    A writer fills one dictionary again for each row, which costs less than a new one per
    row: each export makes writers of its own."""

    def __init__(self, kind: str):
        model, spec = MODELS[kind]
        self._names = [f.name for f in fields(model)]
        self._record: dict[str, Any] = dict.fromkeys(["type", *self._names])
        self._record["type"] = kind
        self._texts = [name for name in self._names if spec[name][0] in (OBJECT, JSON)]
        self._flags = [name for name in self._names if spec[name][0] is FLAG]

    def __call__(self, row: tuple) -> bytes:
        record = self._record
        record.update(zip(self._names, row, strict=True))
        for name in self._texts:
            text = record[name]
            if text is not None:
                record[name] = orjson.Fragment(text)
        for name in self._flags:
            record[name] = bool(record[name])
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
