"""What a client asks for, typed: the API's schemas load request bodies into these records,
and the service takes nothing else. Instants are epoch seconds.

Each default of a request lives here, once: ``max_retries`` 0, ``retry_backoff`` 1 s,
``overlap`` ``skip``, ``misfire`` ``run_once``; a schedule without ``timezone`` gets
``TASKY_TIMEZONE`` (``Settings.timezone``) from the service. So does the rule of which fields
make a schedule and which belong to one task only (``submit_request``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Final

from tasky.errors import InvalidInput

TRIGGER_FIELDS = ("cron", "interval", "timezone", "start_at", "end_at")
"""The fields a schedule's ticks are computed from: changing one recomputes ``next_run_at``."""
SCHEDULE_FIELDS = (*TRIGGER_FIELDS, "overlap", "misfire")
"""Fields of a schedule only: a task has none of them."""
TASK_ONLY_FIELDS = ("execute_at", "delay", "idempotency_key", "depends_on", "run_if")
"""Fields of one task only: a schedule has none of them."""


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """One task to submit. ``execute_at`` and ``delay`` are never both given (schemas)."""

    config: dict[str, Any] | None = None
    execute_at: float | None = None
    delay: float | None = None
    timeout: float | None = None
    max_retries: int = 0
    retry_backoff: float = 1.0
    idempotency_key: str | None = None
    depends_on: list[str] | None = None
    """Ids of the tasks this one waits for; ``run_if`` (default ``all_success``) decides
    whether it runs once they have ended."""
    run_if: str | None = None
    callback_url: str | None = None
    """Receives the task's terminal event, signed with ``TASKY_WEBHOOK_SECRET``."""


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """A schedule to create: ``cron`` or ``interval`` (the trigger checks that exactly one is
    given), its bounds and options, and what each of its runs gets."""

    config: dict[str, Any] | None = None
    cron: str | None = None
    interval: float | None = None
    timezone: str | None = None
    """None: ``TASKY_TIMEZONE``."""
    start_at: float | None = None
    end_at: float | None = None
    overlap: str = "skip"
    misfire: str = "run_once"
    timeout: float | None = None
    max_retries: int = 0
    retry_backoff: float = 1.0
    callback_url: str | None = None
    """Receives the terminal event of each run."""


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """Tasks of one worker, created all or nothing."""

    tasks: list[TaskRequest]


class Unset(Enum):
    """A field a change request leaves as it is (None, where allowed, clears it)."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


class _Changes:
    def given(self) -> dict[str, Any]:
        """The fields the request sets, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) is not UNSET
        }


@dataclass(frozen=True, slots=True)
class TaskChanges(_Changes):
    """An edit of a task that has not started."""

    config: dict[str, Any] | Unset | None = UNSET
    execute_at: float | Unset = UNSET
    delay: float | Unset = UNSET
    timeout: float | Unset | None = UNSET
    max_retries: int | Unset = UNSET


@dataclass(frozen=True, slots=True)
class ScheduleChanges(_Changes):
    """An edit of a schedule: a new ``cron`` replaces the ``interval`` and the other way
    round; None clears ``start_at``, ``end_at`` or ``timeout``."""

    config: dict[str, Any] | Unset | None = UNSET
    cron: str | Unset | None = UNSET
    interval: float | Unset | None = UNSET
    timezone: str | Unset = UNSET
    start_at: float | Unset | None = UNSET
    end_at: float | Unset | None = UNSET
    overlap: str | Unset = UNSET
    misfire: str | Unset = UNSET
    timeout: float | Unset | None = UNSET
    max_retries: int | Unset = UNSET
    retry_backoff: float | Unset = UNSET


def schedule_fields_in(given: dict[str, Any]) -> list[str]:
    """The schedule-only fields among those ``given``."""
    return [name for name in SCHEDULE_FIELDS if name in given]


def submit_request(given: dict[str, Any]) -> TaskRequest | ScheduleRequest:
    """A submit's fields as one task, or with ``cron`` or ``interval`` as a schedule;
    ``InvalidInput`` for a field of the other kind."""
    if "cron" in given or "interval" in given:
        misplaced = [name for name in TASK_ONLY_FIELDS if name in given]
        if misplaced:
            hint = "Not for a schedule; use start_at to delay its first run."
            raise InvalidInput("not a schedule option", errors={n: [hint] for n in misplaced})
        return ScheduleRequest(**given)
    misplaced = schedule_fields_in(given)
    if misplaced:
        raise InvalidInput(
            "schedule options need a cron or interval",
            errors={name: ["Only for a schedule (with cron or interval)."] for name in misplaced},
        )
    return TaskRequest(**given)


@dataclass(frozen=True, slots=True)
class StepRequest:
    """One step of a chain: a task of ``worker`` named ``step``, whose ``task.depends_on``
    names other steps of the chain."""

    step: str
    worker: str
    task: TaskRequest


@dataclass(frozen=True, slots=True)
class ChainRequest:
    """Named steps submitted together, all or nothing."""

    steps: list[StepRequest]
    name: str | None = None
    idempotency_key: str | None = None
    failure_policy: str = "continue"
    callback_url: str | None = None
    """Receives the terminal event of each step."""


@dataclass(frozen=True, slots=True)
class ChainScheduleRequest:
    """A schedule whose every tick stores one run of ``chain``: its trigger and options
    (``timeout``, ``max_retries`` and ``retry_backoff`` are the steps' own)."""

    chain: ChainRequest
    schedule: ScheduleRequest


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """An endpoint to create: its URL, the events it wants (None: every terminal event of a
    task) and a filter of the tasks (each None for any)."""

    url: str
    events: list[str] | None = None
    worker: str | None = None
    chain_id: str | None = None
    schedule_id: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookChanges(_Changes):
    """An edit of an endpoint; ``enabled`` true enables a disabled one again."""

    url: str | Unset = UNSET
    events: list[str] | Unset = UNSET
    worker: str | Unset | None = UNSET
    chain_id: str | Unset | None = UNSET
    schedule_id: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    enabled: bool | Unset = UNSET
