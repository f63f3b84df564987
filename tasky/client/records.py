"""What the client's methods return: one frozen dataclass per kind of answer.

Instants (every field ending in ``_at``) are aware ``datetime`` objects in UTC; durations are
float seconds, as in the API. Each record keeps the answer it was built from in ``raw`` (the
API's JSON, for printing it as it came); fields the server adds later land there only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

R = TypeVar("R", bound="Record")


def parse_instant(value: Any) -> datetime | None:
    """An API instant (ISO-8601 with ``Z`` or an offset) as an aware datetime."""
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Record:
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls: type[R], data: dict[str, Any]) -> R:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "raw" or f.name not in data:
                continue
            value = data[f.name]
            values[f.name] = parse_instant(value) if f.name.endswith("_at") else value
        return cls(raw=data, **values)


@dataclass(frozen=True)
class Worker(Record):
    name: str = ""
    description: str = ""
    usage: str = ""
    config_objects: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    max_num_tasks: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class WorkerStatistics(Record):
    name: str = ""
    submitted: int = 0
    scheduled: int = 0
    queued: int = 0
    paused: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    canceled: int = 0
    failure_rate: float | None = None
    avg_duration: float | None = None
    p50_duration: float | None = None
    p95_duration: float | None = None
    last_finished_at: datetime | None = None


@dataclass(frozen=True)
class SubmittedTask(Record):
    """The answer to a task submit; ``created`` is False when an idempotency key matched."""

    task_id: str = ""
    worker: str = ""
    status: str = ""
    execute_at: datetime | None = None
    created_at: datetime | None = None
    created: bool = True


@dataclass(frozen=True)
class SubmittedSchedule(Record):
    schedule_id: str = ""
    worker: str = ""
    next_run_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class TaskSummary(Record):
    """An item of ``GET /tasks/``."""

    task_id: str = ""
    worker: str = ""
    status: str = ""
    created_at: datetime | None = None
    execute_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None


@dataclass(frozen=True)
class Task(TaskSummary):
    """The full record of a task."""

    config: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    max_retries: int = 0
    retry_backoff: float | None = None
    timeout: float | None = None
    schedule_id: str | None = None
    error: str | None = None
    idempotency_key: str | None = None
    output_truncated: bool = False


@dataclass(frozen=True)
class TaskStatus(Record):
    task_id: str = ""
    status: str = ""
    duration: float | None = None
    attempts: int = 0
    execute_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class TaskResult(Record):
    task_id: str = ""
    status: str = ""
    output: Any = None
    error: str | None = None
    output_truncated: bool = False


@dataclass(frozen=True)
class TaskStatistics(Record):
    task_id: str = ""
    attempts: int = 0
    queued_for: float | None = None
    ran_for: float | None = None
    lateness: float | None = None


@dataclass(frozen=True)
class Schedule(Record):
    schedule_id: str = ""
    worker: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    interval: float | None = None
    timezone: str | None = None
    status: str = ""
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_task_id: str | None = None
    runs: int = 0
    overlap: str | None = None
    misfire: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    created_at: datetime | None = None
    timeout: float | None = None
    max_retries: int = 0
    retry_backoff: float | None = None


@dataclass(frozen=True)
class Health(Record):
    status: str = ""
    store: str = ""
    version: str = ""
    workers: list[str] = field(default_factory=list)
    runner: str | None = None


@dataclass(frozen=True)
class Runner(Record):
    runner_id: str = ""
    host: str = ""
    pid: int | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    status: str = ""
    """``live``, or ``gone`` once its heartbeat stopped."""
    workers: list[str] = field(default_factory=list)
    running: dict[str, int] = field(default_factory=dict)
    """Tasks running now, per worker."""


T = TypeVar("T", bound=Record)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None
