"""Request and response schemas. Requests load into the plain dicts ``TaskService`` takes
(instants as epoch seconds, omitted fields absent); responses dump ``Task`` records and the
service's dicts."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from tasky.api.fields import Duration, Timestamp
from tasky.models import TaskState
from tasky.service import ACTIONS

MAX_SECONDS = 100 * 365 * 86400.0
"""Upper bound of any duration field: keeps every computed instant representable."""
MAX_RETRIES = 1000
MAX_BATCH = 10_000
MAX_LIMIT = 1000


class RequestSchema(ma.Schema):
    """A request body or query: unknown fields are an error."""

    class Meta:
        unknown = ma.RAISE


def _seconds(*, positive: bool, description: str, **kwargs) -> fields.Float:
    return fields.Float(
        validate=validate.Range(min=0, max=MAX_SECONDS, min_inclusive=not positive),
        metadata={"description": description},
        **kwargs,
    )


def _not_both_due_fields(data: dict, **kwargs) -> None:
    if "execute_at" in data and "delay" in data:
        message = "Give execute_at or delay, not both."
        raise ma.ValidationError({"execute_at": [message], "delay": [message]})


class TaskChangeSchema(RequestSchema):
    """The fields of a task a client sets: at submit time, or later while it waits."""

    config = fields.Dict(
        keys=fields.String(),
        metadata={"description": "The worker's own parameters (see its `parameters`)."},
    )
    execute_at = Timestamp(
        metadata={"description": "Run at this time (ISO-8601; a naive time is read in "
                                 "TASKY_TIMEZONE); a time in the past means now."},
    )
    delay = _seconds(positive=False, description="Run after this many seconds.")
    timeout = _seconds(positive=True, allow_none=True,
                       description="Seconds an attempt may run; null for no limit.")
    max_retries = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_RETRIES),
        metadata={"description": "Failed attempts retried with exponential backoff."},
    )

    @ma.validates_schema
    def _due(self, data, **kwargs):
        _not_both_due_fields(data)


class SubmitSchema(TaskChangeSchema):
    retry_backoff = _seconds(positive=True, description="Base seconds of the retry backoff.")
    idempotency_key = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "A second submit with this key returns the first task."},
    )


class TaskPatchSchema(TaskChangeSchema):
    pass


class BatchSchema(RequestSchema):
    tasks = fields.List(
        fields.Nested(SubmitSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
    )


class ActionSchema(RequestSchema):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))


class TaskQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in TaskState]))
    worker = fields.String()
    schedule_id = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})


# -- responses ------------------------------------------------------------------------------


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


class SubmittedSchema(ma.Schema):
    task_id = fields.String(attribute="id")
    worker = fields.String()
    status = fields.String()
    execute_at = Timestamp()
    created_at = Timestamp()


class BatchSubmittedSchema(ma.Schema):
    task_ids = fields.List(fields.String())


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
    output = fields.Method("_output", allow_none=True,
                           metadata={"description": "The worker's output; null until the "
                                                    "task has finished."})
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


class HealthSchema(ma.Schema):
    status = fields.String()
    store = fields.String()
    version = fields.String()
    workers = fields.List(fields.String())
