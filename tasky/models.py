"""Domain records. Instants are float seconds since the epoch (UTC) inside the engine and the
store; the HTTP layer turns them into ISO-8601 with ``Z``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TaskState(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PAUSED = "paused"
    RUNNING = "running"
    CANCELING = "canceling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELED})
WAITING_STATES = frozenset({TaskState.SCHEDULED, TaskState.QUEUED})
"""Not yet started and claimable once due."""
EDITABLE_STATES = WAITING_STATES | {TaskState.PAUSED}
ACTIVE_STATES = frozenset({TaskState.RUNNING, TaskState.CANCELING})
"""Held by a runner under a lease."""


@dataclass(slots=True)
class NewTask:
    """What a submit asks the store to create. Not frozen, like ``Task``: read-only by
    convention."""

    id: str
    worker: str
    config: dict[str, Any]
    execute_at: float
    created_at: float
    timeout: float | None = None
    max_retries: int = 0
    retry_backoff: float = 1.0
    idempotency_key: str | None = None
    schedule_id: str | None = None

    @property
    def status(self) -> TaskState:
        return TaskState.QUEUED if self.execute_at <= self.created_at else TaskState.SCHEDULED

    def as_task(self) -> Task:
        """The task as the store holds it right after inserting it."""
        return Task(
            id=self.id,
            worker=self.worker,
            status=self.status,
            config=self.config,
            execute_at=self.execute_at,
            created_at=self.created_at,
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            timeout=self.timeout,
            schedule_id=self.schedule_id,
            idempotency_key=self.idempotency_key,
        )


@dataclass(slots=True)
class Task:
    """A stored task, as the store read or wrote it: read-only by convention (changes go
    through ``dataclasses.replace`` and the store). Not frozen: the stores build one per row
    read, and a frozen dataclass's ``__init__`` costs five times as much."""

    id: str
    worker: str
    status: TaskState
    config: dict[str, Any]
    execute_at: float
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    max_retries: int = 0
    retry_backoff: float = 1.0
    timeout: float | None = None
    schedule_id: str | None = None
    idempotency_key: str | None = None
    error: str | None = None
    output: Any = None
    output_truncated: bool = False
    owner: str | None = None
    lease_until: float | None = None
    lateness: float | None = None
    queued_for: float = 0.0
    ran_for: float = 0.0

    def duration(self, now: float) -> float | None:
        """Seconds run so far (running) or in total over all attempts (finished)."""
        if self.started_at is None:
            return None
        if self.status in ACTIVE_STATES:
            return self.ran_for + max(0.0, now - self.started_at)
        return self.ran_for


@dataclass(frozen=True)
class Outcome:
    """The end of one attempt, as the executor reports it to the store.

    ``status`` is the wanted state (completed, failed or canceled); the store turns it into
    canceled when a cancel arrived meanwhile, and a failure into a retry (``scheduled`` at
    ``retry_at``) while the task has retries left.
    ``output_json`` is the output as stored: JSON text, already bounded by the output limit.
    """

    task_id: str
    owner: str
    attempt: int
    status: TaskState
    finished_at: float
    output_json: str | None = None
    output_truncated: bool = False
    error: str | None = None
    retry_at: float | None = None


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_cursor: str | None


@dataclass(frozen=True)
class TaskFilter:
    status: TaskState | None = None
    worker: str | None = None
    schedule_id: str | None = None


@dataclass(frozen=True)
class WorkerCounts:
    """Per-worker figures over the tasks still stored."""

    by_status: dict[str, int] = field(default_factory=dict)
    durations: Sequence[float] = field(default_factory=list)
    """Run times of the finished attempts, ascending: a compact ``array('d')`` from the
    stores (8 bytes a duration, not a float object each: a worker may have millions)."""
    last_finished_at: float | None = None


class ScheduleState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


@dataclass(frozen=True)
class Schedule:
    """A cron or interval trigger that creates tasks. ``next_run_at`` is None once the
    trigger has no tick left (past ``end_at``)."""

    id: str
    worker: str
    config: dict[str, Any]
    cron: str | None
    interval: float | None
    timezone: str
    status: ScheduleState
    next_run_at: float | None
    created_at: float
    overlap: str = "skip"
    misfire: str = "run_once"
    start_at: float | None = None
    end_at: float | None = None
    last_run_at: float | None = None
    last_task_id: str | None = None
    runs: int = 0
    timeout: float | None = None
    max_retries: int = 0
    retry_backoff: float = 1.0


@dataclass(frozen=True)
class SchedulePage:
    schedules: list[Schedule]
    next_cursor: str | None


@dataclass(frozen=True)
class Firing:
    """What :meth:`Store.fire_schedule` did: whether this caller won the tick, and the task it
    created (None when the tick was skipped: overlap, or a misfire set to ``skip``)."""

    won: bool
    task: Task | None = None


@dataclass(frozen=True)
class LeaseReport:
    """What :meth:`Store.renew_leases` found among the tasks a runner believes it holds."""

    lost: frozenset[str] = frozenset()
    """Held no more: another runner recovered them after the lease expired."""
    canceling: frozenset[str] = frozenset()
    """Still held, and flagged ``canceling`` by a cancel."""


HEARTBEAT_EVERY = 2.0
"""Seconds between two heartbeats of a live runner."""
RUNNER_GONE_AFTER = 10.0
"""A runner whose last heartbeat is older than this is shown as gone."""
RUNNER_FORGET_AFTER = 600.0
"""A gone runner is dropped from the store after this many seconds without a heartbeat."""


@dataclass(frozen=True)
class RunnerInfo:
    """A runner process as its last heartbeat in the store shows it."""

    id: str
    """Its lease owner id (``host:pid:random``)."""
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    workers: list[str]
    """The workers it runs (those enabled on it)."""
    running: dict[str, int]
    """Tasks running now, per worker."""


@dataclass(frozen=True)
class RunnerStatus:
    """This server's own runner, as ``/health`` reports it: ``running``, ``down`` (with the
    reason) or ``off`` (``TASKY_RUNNER=off``)."""

    state: str
    reason: str | None = None


@dataclass(frozen=True)
class TaskStatistics:
    """Seconds a task waited and ran, and how late it first started (``lateness``)."""

    task_id: str
    attempts: int
    queued_for: float
    ran_for: float
    lateness: float | None


@dataclass(frozen=True)
class WorkerStatistics:
    """A worker's figures over its tasks still stored."""

    name: str
    counts: WorkerCounts


@dataclass(frozen=True)
class Health:
    """This server as ``/health`` reports it when the store answers and the runner is not
    down."""

    store: str
    version: str
    workers: list[str]
    runner: RunnerStatus
