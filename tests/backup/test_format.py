"""The export format: a stored row becomes one line and reads back as the same row; each
kind of bad line is rejected with its reason."""

from __future__ import annotations

import json
from dataclasses import astuple, fields

import orjson
import pytest

from tasky.backup.format import (
    FORMAT,
    KINDS,
    NotAnExport,
    Rejected,
    UnsupportedFormat,
    Writer,
    header_line,
    parse_line,
    read_header,
)
from tasky.models import Schedule, ScheduleState, Task, TaskState

T0 = 1_800_000_000.123_456_7
ID = "0" * 31 + "1"


def task(**kw) -> Task:
    values = {
        "id": ID,
        "worker": "echo",
        "status": TaskState.COMPLETED,
        "config": {"message": 'héllo "quoted" \n', "nested": [1, 2.5, None, {"a": True}]},
        "execute_at": T0,
        "created_at": T0 - 0.1,
        "started_at": T0 + 1e-7,
        "finished_at": T0 + 2 / 3,
        "attempts": 2,
        "max_retries": 3,
        "retry_backoff": 0.1,
        "timeout": 30.0,
        "schedule_id": "a" * 32,
        "idempotency_key": "key-ü",
        "error": "RuntimeError: boom\ttab",
        "output": {"message": "ok", "list": [0.30000000000000004]},
        "output_truncated": True,
        "owner": "host:12:abc",
        "lease_until": T0 + 30,
        "lateness": 1e-300,
        "queued_for": 0.0,
        "ran_for": 5e-324,
    }
    values.update(kw)
    return Task(**values)


def schedule(**kw) -> Schedule:
    values = {
        "id": ID,
        "worker": "echo",
        "config": {"message": "tick"},
        "cron": "*/5 * * * *",
        "interval": None,
        "timezone": "Europe/Paris",
        "status": ScheduleState.PAUSED,
        "next_run_at": T0 + 300,
        "created_at": T0,
        "overlap": "allow",
        "misfire": "skip",
        "start_at": T0,
        "end_at": T0 + 86400.5,
        "last_run_at": T0 - 300,
        "last_task_id": "b" * 32,
        "runs": 7,
        "timeout": None,
        "max_retries": 1,
        "retry_backoff": 2.5,
    }
    values.update(kw)
    return Schedule(**values)


def task_line(row: tuple) -> bytes:
    return Writer("task")(row)


def schedule_line(row: tuple) -> bytes:
    return Writer("schedule")(row)


def compact(value) -> str:
    return orjson.dumps(value).decode()


def stored_row(record, dumps=compact) -> tuple:
    """The row a store holds for a record: JSON as text (by default in the compact form an
    import stores), states as text."""
    row = list(astuple(record))
    names = [f.name for f in fields(record)]
    for name in ("config", "output"):
        if name in names:
            value = row[names.index(name)]
            row[names.index(name)] = None if value is None else dumps(value)
    row[names.index("status")] = str(row[names.index("status")])
    return tuple(row)


def test_a_task_row_reads_back_exactly():
    row = stored_row(task())
    line = task_line(row)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert list(json.loads(line)) == ["type", *(f.name for f in fields(Task))]
    kind, back = parse_line(line)
    assert kind == "task"
    assert back == row
    assert [type(v) for v in back] == [type(v) for v in row]


def test_json_text_stored_in_another_form_reads_back_as_the_same_values():
    """The service stores ``json.dumps`` text (ASCII, spaced); a restore holds the same
    JSON values, in the compact form."""
    spaced = stored_row(task(), dumps=json.dumps)
    _, back = parse_line(task_line(spaced))
    assert back == stored_row(task())
    for column in (3, 15):
        assert json.loads(back[column]) == json.loads(spaced[column])


def test_a_schedule_row_reads_back_exactly():
    for record in (schedule(), schedule(cron=None, interval=0.25, end_at=None)):
        row = stored_row(record)
        line = schedule_line(row)
        assert list(json.loads(line)) == ["type", *(f.name for f in fields(Schedule))]
        assert parse_line(line) == ("schedule", row)


def test_a_task_with_nothing_optional_reads_back():
    bare = task(
        started_at=None, finished_at=None, timeout=None, schedule_id=None,
        idempotency_key=None, error=None, output=None, output_truncated=False, owner=None,
        lease_until=None, lateness=None, status=TaskState.SCHEDULED, attempts=0,
    )  # fmt: skip
    row = stored_row(bare)
    assert parse_line(task_line(row)) == ("task", row)


def test_the_same_value_in_many_rows_is_written_the_same():
    lines = {task_line(stored_row(task(id=f"{i:032x}"))).split(b",", 2)[2] for i in range(3)}
    assert len(lines) == 1


def test_fields_left_out_take_the_model_defaults():
    line = json.dumps(
        {
            "type": "task",
            "id": ID,
            "worker": "echo",
            "status": "queued",
            "config": {},
            "execute_at": T0,
            "created_at": T0,
        }
    )
    kind, row = parse_line(line.encode())
    assert kind == "task"
    back = dict(zip((f.name for f in fields(Task)), row, strict=True))
    assert back["attempts"] == 0 and back["retry_backoff"] == 1.0
    assert back["output"] is None and back["output_truncated"] is False


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "not-an-id"}, "id: must be a Tasky id"),
        ({"status": "exploded"}, "status: must be one of"),
        ({"config": [1]}, "config: must be a JSON object"),
        ({"execute_at": "2026-01-01T00:00:00Z"}, "execute_at: must be seconds"),
        ({"attempts": -1}, "attempts: must be an integer"),
        ({"attempts": True}, "attempts: must be an integer"),
        ({"output_truncated": 1}, "output_truncated: must be true or false"),
        ({"worker": ""}, "worker: must be a non-empty string"),
        ({"surprise": 1}, "unknown field: surprise"),
        ({"type": "job"}, '"type" must be'),
    ],
)
def test_a_bad_field_rejects_its_line(change, reason):
    record = json.loads(task_line(stored_row(task())))
    record.update(change)
    with pytest.raises(Rejected, match=reason):
        parse_line(json.dumps(record).encode())


def test_a_missing_required_field_rejects_its_line():
    record = json.loads(task_line(stored_row(task())))
    del record["worker"]
    with pytest.raises(Rejected, match="worker: missing"):
        parse_line(json.dumps(record).encode())


@pytest.mark.parametrize("text", [b"{", b"[1, 2]", b"\xff\xfe", b'{"a": NaN', b"null"])
def test_a_line_that_is_no_json_object_is_rejected(text):
    with pytest.raises(Rejected, match="not a JSON object"):
        parse_line(text)


def test_the_header_reads_back():
    header = read_header(header_line("sqlite", T0, 1, 2, 5).encode())
    assert header["format"] == FORMAT and header["store"] == "sqlite"
    assert header["counts"] == {"chains": 1, "schedules": 2, "tasks": 5}
    assert header["taken_at_epoch"] == T0
    assert (
        header["taken_at"].startswith("2027-01-15T08:00:00.123") and header["taken_at"][-1] == "Z"
    )


@pytest.mark.parametrize("first", [b"", b"hello", b"[]", b'{"kind": "other"}', b"{"])
def test_a_body_that_starts_with_no_header_is_not_an_export(first):
    with pytest.raises(NotAnExport):
        read_header(first)


def test_an_unknown_format_version_is_refused():
    header = json.loads(header_line("sqlite", T0, 0, 0, 0))
    header["format"] = FORMAT + 1
    with pytest.raises(UnsupportedFormat) as caught:
        read_header(json.dumps(header).encode())
    assert caught.value.status_code == 422


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"execute_at": 1_800_000_000},  # an integer where a float is stored
        {"attempts": True},
        {"attempts": 1.0},
        {"timeout": -1},
        {"lateness": None},
        {"output": None},
        {"output": [1, "two"]},
        {"schedule_id": "A" * 32},
        {"worker": ""},
        {"status": "Completed"},
        {"config": {}},
    ],
)
def test_the_fast_path_reads_a_line_as_the_field_by_field_checks_do(change):
    """The import's fast path and the checks that name a fault agree, line by line."""
    record = json.loads(task_line(stored_row(task())))
    del record["type"]
    record.update(change)
    reader = KINDS["task"]
    fast = reader.fast(dict(record))
    try:
        checked = reader.checked(dict(record))
    except Rejected:
        checked = None
    assert fast == checked


@pytest.mark.parametrize(
    "config",
    [
        {"big": 2**70, "negative": -(2**64), "edge": 2**64 - 1},  # beyond orjson's integers
        {"lone": "\ud800 and \udfff"},  # lone surrogates: orjson refuses them
        {"text": "é ü 𝄞 \u2028 \x00", "large": 1e300, "tiny": 5e-324, "minus_zero": -0.0},
    ],
)
def test_json_values_read_back_exactly_whatever_orjson_can_read(config):
    row = stored_row(task(config=config, output=config), dumps=json.dumps)
    _, back = parse_line(task_line(row))
    for column in (3, 15):
        restored = json.loads(back[column])
        assert restored == config
        assert json.dumps(restored) == json.dumps(config)  # the same types: ints stay ints


def test_floats_are_written_in_their_shortest_exact_form():
    row = stored_row(task(execute_at=0.1 + 0.2, retry_backoff=1.0, lateness=1e-7))
    record = json.loads(task_line(row))
    assert record["execute_at"] == 0.30000000000000004 and record["retry_backoff"] == 1.0
    assert b'"retry_backoff":1.0,' in task_line(row)
