"""What the HTTP layer calls: the only door to the engine.

Requests arrive here already shaped by the API schemas (types, ranges, mutually exclusive
fields); this layer applies the rules that need the workers, the store or the clock.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import marshmallow as ma

from tasky import __version__
from tasky.config import Settings
from tasky.errors import (
    InvalidInput,
    ScheduleNotFound,
    StateConflict,
    StoreUnavailable,
    TaskNotFound,
    UnknownWorker,
    WorkerDisabled,
)
from tasky.ids import new_id, new_ids
from tasky.models import (
    WAITING_STATES,
    NewTask,
    Schedule,
    SchedulePage,
    ScheduleState,
    Task,
    TaskFilter,
    TaskPage,
    TaskState,
)
from tasky.registry import Registry
from tasky.runner.hooks import call_hook
from tasky.schedules import run_of, trigger_of
from tasky.stores.base import Store
from tasky.triggers import TriggerError
from tasky.worker import Worker, describe_parameters, example_config

ACTIONS = ("cancel", "pause", "resume", "run")


class Engine(Protocol):
    """The running side, as the service sees it: ``tasky.runner.runtime.Runtime`` where the tasks
    run in this process, ``tasky.runner.process.RunnerProcess`` in an HTTP process."""

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """``Store.create_tasks`` for new tasks of one worker, which then run when due."""

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        """New work (of ``worker``, or of any) may be due sooner than the scheduler thinks;
        ``due_at``: the new work of ``worker`` is due at that time or later."""

    def abort(self, task_id: str) -> None:
        """Stop the task if this process runs it."""


class _Detached:
    """The engine of a process that runs no tasks (tests of the API alone)."""

    def __init__(self, store: Store):
        self.store = store

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        return self.store.create_tasks(tasks)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None: ...

    def abort(self, task_id: str) -> None: ...


TRIGGER_FIELDS = ("cron", "interval", "timezone", "start_at", "end_at")
SCHEDULE_FIELDS = (*TRIGGER_FIELDS, "overlap", "misfire")
TASK_ONLY_FIELDS = ("execute_at", "delay", "idempotency_key")


@dataclass(frozen=True)
class Submitted:
    """A submit's answer: a task (``created`` False when an idempotency key matched), or a
    schedule when the request had a ``cron`` or ``interval``."""

    task: Task | None
    created: bool
    schedule: Schedule | None = None


class TaskService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        engine: Engine | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.engine = engine or _Detached(store)
        self.clock = clock

    # -- workers ------------------------------------------------------------------------------

    def list_workers(self) -> list[dict[str, Any]]:
        return [self._describe(worker) for worker in self.registry.all()]

    def worker_info(self, name: str) -> dict[str, Any]:
        return self._describe(self.registry.get(name))

    def worker_statistics(self, name: str) -> dict[str, Any]:
        worker = self.registry.get(name)
        counts = self.store.worker_counts(worker.name)
        by_status = counts.by_status
        completed = by_status.get("completed", 0)
        failed = by_status.get("failed", 0)
        durations = counts.durations
        return {
            "name": worker.name,
            "submitted": sum(by_status.values()),
            "scheduled": by_status.get("scheduled", 0),
            "queued": by_status.get("queued", 0),
            "paused": by_status.get("paused", 0),
            "running": by_status.get("running", 0) + by_status.get("canceling", 0),
            "completed": completed,
            "failed": failed,
            "canceled": by_status.get("canceled", 0),
            "failure_rate": failed / (completed + failed) if completed + failed else None,
            "avg_duration": statistics.fmean(durations) if durations else None,
            "p50_duration": _percentile(durations, 50),
            "p95_duration": _percentile(durations, 95),
            "last_finished_at": counts.last_finished_at,
        }

    @staticmethod
    def _describe(worker: Worker) -> dict[str, Any]:
        schema = worker.config_schema
        return {
            "name": worker.name,
            "description": worker.description,
            "usage": worker.usage,
            "config_objects": example_config(schema),
            "parameters": describe_parameters(schema),
            "max_num_tasks": worker.max_num_tasks,
            "enabled": worker.enabled,
        }

    # -- submitting ---------------------------------------------------------------------------

    def submit(self, worker_name: str, request: dict[str, Any]) -> Submitted:
        """One task, or a schedule when ``cron`` or ``interval`` is given. ``request`` holds
        the submit fields of SPEC, instants as epoch seconds."""
        worker = self._enabled_worker(worker_name)
        if request.get("cron") is not None or request.get("interval") is not None:
            return Submitted(None, True, self._create_schedule(worker, request))
        now = self.clock()
        new = self._new_task(
            worker, request, now, new_id(now), functools.partial(self._valid_config, worker)
        )
        task, created = self.engine.create_tasks([new])[0]
        return Submitted(task, created)

    def submit_batch(self, worker_name: str, requests: list[dict[str, Any]]) -> list[Task]:
        """All or nothing: one invalid item rejects the batch, naming its index. Items with
        equal configs have it validated once."""
        worker = self._enabled_worker(worker_name)
        now = self.clock()
        valid_config = _once_per_config(functools.partial(self._valid_config, worker))
        news, errors = [], {}
        for index, (request, task_id) in enumerate(zip(requests, new_ids(now, len(requests)))):
            try:
                news.append(self._new_task(worker, request, now, task_id, valid_config))
            except InvalidInput as exc:
                errors[index] = exc.errors or {"_schema": [exc.message]}
        if errors:
            raise InvalidInput("invalid tasks in batch", errors={"tasks": errors})
        return [task for task, _ in self.engine.create_tasks(news)]

    def _enabled_worker(self, name: str) -> Worker:
        worker = self.registry.get(name)
        if not worker.enabled:
            raise WorkerDisabled(f"worker {worker.name!r} is disabled on this server")
        return worker

    @staticmethod
    def _new_task(
        worker: Worker,
        request: dict[str, Any],
        now: float,
        task_id: str,
        valid_config: Callable[[dict[str, Any] | None], dict[str, Any]],
    ) -> NewTask:
        misplaced = [name for name in SCHEDULE_FIELDS if request.get(name) is not None]
        if misplaced:
            raise InvalidInput(
                "schedule options need a cron or interval",
                errors={
                    name: ["Only for a schedule (with cron or interval)."] for name in misplaced
                },
            )
        return NewTask(
            id=task_id,
            worker=worker.name,
            config=valid_config(request.get("config")),
            execute_at=_due_at(request, now),
            created_at=now,
            timeout=request.get("timeout"),
            max_retries=request.get("max_retries") or 0,
            retry_backoff=request.get("retry_backoff") or 1.0,
            idempotency_key=request.get("idempotency_key"),
        )

    @staticmethod
    def _valid_config(worker: Worker, config: dict[str, Any] | None) -> dict[str, Any]:
        """Validate with the worker's schema; store the JSON form of the loaded config."""
        schema = worker.config_schema
        try:
            loaded = worker.validate(schema.load(config or {}))
        except ma.ValidationError as exc:
            raise InvalidInput("invalid config", errors={"config": exc.messages}) from None
        return schema.dump(loaded)

    # -- schedules ------------------------------------------------------------------------------

    def _create_schedule(self, worker: Worker, request: dict[str, Any]) -> Schedule:
        misplaced = [name for name in TASK_ONLY_FIELDS if request.get(name) is not None]
        if misplaced:
            hint = "Not for a schedule; use start_at to delay its first run."
            raise InvalidInput("not a schedule option", errors={n: [hint] for n in misplaced})
        now = self.clock()
        draft = Schedule(
            id=new_id(now),
            worker=worker.name,
            config=self._valid_config(worker, request.get("config")),
            cron=request.get("cron"),
            interval=request.get("interval"),
            timezone=request.get("timezone") or self.settings.timezone,
            status=ScheduleState.ACTIVE,
            next_run_at=None,
            created_at=now,
            overlap=request.get("overlap") or "skip",
            misfire=request.get("misfire") or "run_once",
            start_at=request.get("start_at"),
            end_at=request.get("end_at"),
            timeout=request.get("timeout"),
            max_retries=request.get("max_retries") or 0,
            retry_backoff=request.get("retry_backoff") or 1.0,
        )
        first_run = _first_run(draft, now)
        if first_run is None:
            raise InvalidInput(
                "the schedule would never fire",
                errors={"end_at": ["No tick falls between start_at and end_at."]},
            )
        schedule = self.store.create_schedule(replace(draft, next_run_at=first_run))
        self.engine.wake()
        return schedule

    def get_schedule(self, schedule_id: str) -> Schedule:
        schedule = self.store.get_schedule(schedule_id)
        if schedule is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        return schedule

    def list_schedules(self, limit: int = 100, cursor: str | None = None) -> SchedulePage:
        return self.store.list_schedules(limit, cursor)

    def update_schedule(self, schedule_id: str, changes: dict[str, Any]) -> Schedule:
        """Change the trigger, config or options. A new trigger recomputes ``next_run_at``
        from now; other changes leave the coming tick as it is."""
        current = self.get_schedule(schedule_id)
        fields = {k: v for k, v in changes.items() if k != "config"}
        if "config" in changes:
            worker = self.registry.get(current.worker)
            fields["config"] = self._valid_config(worker, changes["config"])
        if fields.get("cron") is not None:
            fields.setdefault("interval", None)
        if fields.get("interval") is not None:
            fields.setdefault("cron", None)
        draft = replace(current, **fields)
        if draft.cron is None and draft.interval is None:
            raise InvalidInput(
                "a schedule needs a cron or an interval",
                errors={"cron": ["One of cron or interval is required."]},
            )
        if any(name in fields for name in TRIGGER_FIELDS):
            next_run_at = _first_run(draft, self.clock())
            if draft.status is ScheduleState.ACTIVE:
                fields["next_run_at"] = next_run_at
        schedule = self.store.update_schedule(schedule_id, fields)
        self.engine.wake()
        return schedule

    def schedule_action(self, schedule_id: str, action: str) -> Submitted:
        """``pause``, ``resume`` (from now on: ticks missed while paused are not made up) or
        ``run`` (one run now, outside the trigger: the answer is then the new task)."""
        now = self.clock()
        if action == "pause":
            schedule = self.store.update_schedule(
                schedule_id, {"status": ScheduleState.PAUSED}, expect_status=ScheduleState.ACTIVE
            )
        elif action == "resume":
            current = self.get_schedule(schedule_id)
            schedule = self.store.update_schedule(
                schedule_id,
                {"status": ScheduleState.ACTIVE, "next_run_at": _first_run(current, now)},
                expect_status=ScheduleState.PAUSED,
            )
        elif action == "run":
            schedule = self.get_schedule(schedule_id)
            self._enabled_worker(schedule.worker)
            task = self.store.run_schedule_now(schedule_id, run_of(schedule, now, now), now)
            self.engine.wake()
            return Submitted(task, True)
        else:
            raise InvalidInput(
                f"unknown action {action!r}",
                errors={"action": ["Must be one of: pause, resume, run."]},
            )
        self.engine.wake()
        return Submitted(None, False, schedule)

    def delete_schedule(self, schedule_id: str) -> None:
        """Remove it; its runs that have not started are canceled, the others kept."""
        for task in self.store.delete_schedule(schedule_id, self.clock()):
            call_hook(self.registry, task)

    # -- reading --------------------------------------------------------------------------------

    def get_task(self, task_id: str) -> Task:
        task = self.store.get_task(task_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id!r}")
        return task

    def list_tasks(
        self, filters: TaskFilter, limit: int = 100, cursor: str | None = None
    ) -> TaskPage:
        if filters.worker is not None:
            try:
                filters = replace(filters, worker=self.registry.get(filters.worker).name)
            except UnknownWorker:
                pass  # tasks of a worker no longer installed stay listable
        return self.store.list_tasks(filters, limit, cursor)

    def task_statistics(self, task_id: str) -> dict[str, Any]:
        task = self.get_task(task_id)
        now = self.clock()
        queued_for = task.queued_for
        if task.status in WAITING_STATES and task.execute_at < now:
            queued_for += now - task.execute_at
        return {
            "task_id": task.id,
            "attempts": task.attempts,
            "queued_for": queued_for,
            "ran_for": task.duration(now) or 0.0,
            "lateness": task.lateness,
        }

    # -- changing -------------------------------------------------------------------------------

    def cancel(self, task_id: str) -> Task:
        """Not started: canceled now. Running: ``canceling`` until the worker stops."""
        task = self.store.cancel(task_id, self.clock())
        if task.status is TaskState.CANCELING:
            self.engine.abort(task.id)
        else:
            call_hook(self.registry, task)
        return task

    def update_task(self, task_id: str, changes: dict[str, Any]) -> Task:
        """Edit a task that has not started: ``config``, ``execute_at``/``delay``, ``timeout``,
        ``max_retries``."""
        now = self.clock()
        fields = {k: v for k, v in changes.items() if k in ("timeout", "max_retries")}
        if "config" in changes:
            worker = self.registry.get(self.get_task(task_id).worker)
            fields["config"] = self._valid_config(worker, changes["config"])
        if "execute_at" in changes or "delay" in changes:
            fields["execute_at"] = _due_at(changes, now)
        if not fields:
            return self._editable(task_id)
        task = self.store.update_waiting(task_id, fields, now)
        self.engine.wake()
        return task

    def _editable(self, task_id: str) -> Task:
        task = self.get_task(task_id)
        if task.status not in WAITING_STATES | {TaskState.PAUSED}:
            raise StateConflict(f"task is {task.status}")
        return task

    def act(self, task_id: str, action: str) -> Submitted:
        """``cancel``, ``pause``, ``resume`` or ``run``. ``run`` of a finished task submits a
        copy: the answer is then a new task (``created`` True)."""
        now = self.clock()
        if action == "cancel":
            return Submitted(self.cancel(task_id), False)
        if action == "pause":
            return Submitted(self.store.pause(task_id), False)
        if action == "resume":
            task = self.store.resume(task_id, now)
        elif action == "run":
            task = self.get_task(task_id)
            if task.status.is_terminal:
                return self._rerun(task, now)
            task = self.store.run_now(task_id, now)
        else:
            raise InvalidInput(
                f"unknown action {action!r}",
                errors={"action": [f"Must be one of: {', '.join(ACTIONS)}."]},
            )
        self.engine.wake()
        return Submitted(task, False)

    def _rerun(self, task: Task, now: float) -> Submitted:
        worker = self._enabled_worker(task.worker)
        new = NewTask(
            id=new_id(now),
            worker=worker.name,
            config=task.config,
            execute_at=now,
            created_at=now,
            timeout=task.timeout,
            max_retries=task.max_retries,
            retry_backoff=task.retry_backoff,
        )
        copy, _ = self.engine.create_tasks([new])[0]
        return Submitted(copy, True)

    def delete_task(self, task_id: str) -> None:
        self.store.delete_task(task_id)

    # -- operations -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        try:
            self.store.ping()
        except Exception as exc:
            raise StoreUnavailable(f"store unreachable: {exc}") from exc
        return {
            "status": "ok",
            "store": self.store.kind,
            "version": __version__,
            "workers": [w.name for w in self.registry.all()],
        }


def _first_run(schedule: Schedule, now: float) -> float | None:
    """The first tick at or after now (and ``start_at``); ``InvalidInput`` for a bad trigger."""
    try:
        return trigger_of(schedule).first_run(now)
    except TriggerError as exc:
        raise InvalidInput(str(exc), errors={exc.field: [str(exc)]}) from None


def _once_per_config(
    valid_config: Callable[[dict[str, Any] | None], dict[str, Any]],
) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
    """``valid_config`` remembering its answers: a batch's tasks often share one config, and
    validating it is most of the cost of creating a task. The key is the config's ``repr``,
    exact for JSON values (equal text, equal values of equal types) and cheaper than JSON."""
    answers: dict[str, dict[str, Any]] = {}

    def valid(config: dict[str, Any] | None) -> dict[str, Any]:
        key = repr(config)
        if key not in answers:
            answers[key] = valid_config(config)
        return answers[key]

    return valid


def _due_at(request: dict[str, Any], now: float) -> float:
    """``delay`` seconds from now, or ``execute_at``; a time in the past means now."""
    if request.get("delay") is not None:
        return now + request["delay"]
    execute_at = request.get("execute_at")
    return now if execute_at is None else max(execute_at, now)


def _percentile(sorted_values: list[float], pct: int) -> float | None:
    if not sorted_values:
        return None
    index = round(pct / 100 * (len(sorted_values) - 1))
    return sorted_values[index]
