"""Response schemas: they dump the service's domain records (``Task``, ``Schedule``,
workers, statistics, runners, health) into SPEC's JSON."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import marshmallow as ma
from marshmallow import fields

from tasky.api.fields import Duration, Timestamp, app_now
from tasky.models import (
    RUNNER_GONE_AFTER,
    Health,
    RunnerInfo,
    ScheduleState,
    Task,
    WorkerStatistics,
)
from tasky.worker import Worker, describe_parameters, example_config


class ParameterSchema(ma.Schema):
    type = fields.String()
    required = fields.Boolean()
    default = fields.Raw(allow_none=True)
    help = fields.String()


class WorkerSchema(ma.Schema):
    name = fields.String()
    description = fields.String()
    usage = fields.String()
    config_objects = fields.Dict(metadata={"description": "An example config."})
    parameters = fields.Dict(keys=fields.String(), values=fields.Nested(ParameterSchema))
    max_num_tasks = fields.Integer()
    enabled = fields.Boolean()

    @ma.pre_dump
    def _describe(self, worker: Worker, **kwargs) -> dict[str, Any]:
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


class WorkerStatisticsSchema(ma.Schema):
    name = fields.String()
    submitted = fields.Integer()
    scheduled = fields.Integer()
    queued = fields.Integer()
    paused = fields.Integer()
    running = fields.Integer()
    completed = fields.Integer()
    failed = fields.Integer()
    canceled = fields.Integer()
    failure_rate = fields.Float(allow_none=True)
    avg_duration = fields.Float(allow_none=True)
    p50_duration = fields.Float(allow_none=True)
    p95_duration = fields.Float(allow_none=True)
    last_finished_at = Timestamp(allow_none=True)

    @ma.pre_dump
    def _figures(self, stats: WorkerStatistics, **kwargs) -> dict[str, Any]:
        by_status = stats.counts.by_status
        completed = by_status.get("completed", 0)
        failed = by_status.get("failed", 0)
        durations = stats.counts.durations
        return {
            "name": stats.name,
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
            "last_finished_at": stats.counts.last_finished_at,
        }


def _percentile(sorted_values: Sequence[float], pct: int) -> float | None:
    if not sorted_values:
        return None
    index = round(pct / 100 * (len(sorted_values) - 1))
    return sorted_values[index]


class SubmittedSchema(ma.Schema):
    task_id = fields.String(attribute="id")
    worker = fields.String()
    status = fields.String()
    execute_at = Timestamp()
    created_at = Timestamp()


class BatchSubmittedSchema(ma.Schema):
    """Dumps the list of tasks a batch created."""

    task_ids = fields.List(fields.String())

    @ma.pre_dump
    def _ids(self, tasks: list[Task], **kwargs) -> dict[str, Any]:
        return {"task_ids": [task.id for task in tasks]}


class TaskItemSchema(ma.Schema):
    task_id = fields.String(attribute="id")
    worker = fields.String()
    status = fields.String()
    created_at = Timestamp()
    execute_at = Timestamp()
    started_at = Timestamp(allow_none=True)
    finished_at = Timestamp(allow_none=True)
    duration = Duration()


class TaskSchema(TaskItemSchema):
    config = fields.Dict()
    attempts = fields.Integer()
    max_retries = fields.Integer()
    retry_backoff = fields.Float()
    timeout = fields.Float(allow_none=True)
    schedule_id = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    idempotency_key = fields.String(allow_none=True)
    output_truncated = fields.Boolean()


class TaskPageSchema(ma.Schema):
    tasks = fields.List(fields.Nested(TaskItemSchema))
    next_cursor = fields.String(allow_none=True)


class TaskStatusSchema(ma.Schema):
    task_id = fields.String(attribute="id")
    status = fields.String()
    duration = Duration()
    attempts = fields.Integer()
    execute_at = Timestamp()
    started_at = Timestamp(allow_none=True)
    finished_at = Timestamp(allow_none=True)


class TaskResultSchema(ma.Schema):
    task_id = fields.String(attribute="id")
    status = fields.String()
    output = fields.Method(
        "_output",
        allow_none=True,
        metadata={"description": "The worker's output; null until the task has finished."},
    )
    error = fields.String(allow_none=True)
    output_truncated = fields.Boolean()

    def _output(self, task):
        return task.output if task.status.is_terminal else None


class TaskStatisticsSchema(ma.Schema):
    task_id = fields.String()
    attempts = fields.Integer()
    queued_for = fields.Float()
    ran_for = fields.Float()
    lateness = fields.Float(allow_none=True)


class ScheduleSubmittedSchema(ma.Schema):
    schedule_id = fields.String(attribute="id")
    worker = fields.String()
    next_run_at = Timestamp(
        allow_none=True,
        metadata={
            "description": "The first run; null when the trigger has no tick left (past end_at)."
        },
    )
    created_at = Timestamp()


class ScheduleSchema(ma.Schema):
    schedule_id = fields.String(attribute="id")
    worker = fields.String()
    config = fields.Dict()
    cron = fields.String(allow_none=True)
    interval = fields.Float(allow_none=True)
    timezone = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in ScheduleState]})
    next_run_at = Timestamp(
        allow_none=True,
        metadata={
            "description": "The next tick; null when the trigger has no tick left (past end_at)."
        },
    )
    last_run_at = Timestamp(allow_none=True)
    last_task_id = fields.String(allow_none=True)
    runs = fields.Integer(metadata={"description": "Tasks this schedule has created."})
    overlap = fields.String()
    misfire = fields.String()
    start_at = Timestamp(allow_none=True)
    end_at = Timestamp(allow_none=True)
    created_at = Timestamp()
    timeout = fields.Float(allow_none=True)
    max_retries = fields.Integer()
    retry_backoff = fields.Float()


class SchedulePageSchema(ma.Schema):
    schedules = fields.List(fields.Nested(ScheduleSchema))
    next_cursor = fields.String(allow_none=True)


class HealthSchema(ma.Schema):
    status = fields.String(metadata={"enum": ["ok"]})
    store = fields.String(metadata={"enum": ["sqlite", "postgresql"]})
    version = fields.String()
    workers = fields.List(fields.String())
    runner = fields.String(
        metadata={
            "enum": ["running", "off"],
            "description": "This server's runner; `off`: an API-only server "
            "(TASKY_RUNNER=off). A runner that is down makes the answer a 503.",
        }
    )

    @ma.pre_dump
    def _health(self, health: Health, **kwargs) -> dict[str, Any]:
        return {
            "status": "ok",
            "store": health.store,
            "version": health.version,
            "workers": health.workers,
            "runner": health.runner.state,
        }


class RunnerSchema(ma.Schema):
    runner_id = fields.String(attribute="id", metadata={"description": "Its lease owner id."})
    host = fields.String()
    pid = fields.Integer()
    started_at = Timestamp()
    heartbeat_at = Timestamp(metadata={"description": "Its last heartbeat."})
    status = fields.Method(
        "_status",
        metadata={
            "enum": ["live", "gone"],
            "description": f"`gone`: no heartbeat for over {RUNNER_GONE_AFTER:g} s.",
        },
    )
    workers = fields.List(fields.String(), metadata={"description": "The workers it runs."})
    running = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Tasks it runs now, per worker."},
    )

    def _status(self, runner: RunnerInfo) -> str:
        return "gone" if app_now() - runner.heartbeat_at > RUNNER_GONE_AFTER else "live"


class RunnersSchema(ma.Schema):
    """Dumps the list of runners."""

    runners = fields.List(fields.Nested(RunnerSchema))

    @ma.pre_dump
    def _wrap(self, runners: list[RunnerInfo], **kwargs) -> dict[str, Any]:
        return {"runners": runners}
