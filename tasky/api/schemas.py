"""Request and response schemas. Requests load into the plain dicts ``TaskService`` takes
(instants as epoch seconds, omitted fields absent); responses dump ``Task`` and ``Schedule``
records and the service's dicts."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from tasky.api.fields import Duration, Timestamp
from tasky.models import ScheduleState, TaskState
from tasky.schedules import MISFIRE_POLICIES, OVERLAP_POLICIES
from tasky.service import ACTIONS, SCHEDULE_FIELDS

MAX_SECONDS = 100 * 365 * 86400.0
"""Upper bound of any duration field: keeps every computed instant representable."""
MAX_RETRIES = 1000
MAX_BATCH = 10_000
MAX_LIMIT = 1000
SCHEDULE_ACTIONS = ("pause", "resume", "run")


class RequestSchema(ma.Schema):
    """A request body or query: unknown fields are an error."""

    class Meta:
        unknown = ma.RAISE


class OptionalFieldsSchema(RequestSchema):
    """A request whose fields are all optional, with no load default. Loaded ``partial``,
    which then visits only the fields the request has instead of every declared one: the
    same result, several times faster for a small body."""

    def __init__(self, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)


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


class RunSchema(OptionalFieldsSchema):
    """What every run of a task gets: the worker's config and the attempt options."""

    config = fields.Dict(
        keys=fields.String(),
        metadata={"description": "The worker's own parameters (see its `parameters`)."},
    )
    timeout = _seconds(
        positive=True, allow_none=True, description="Seconds an attempt may run; null for no limit."
    )
    max_retries = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_RETRIES),
        metadata={"description": "Failed attempts retried with exponential backoff."},
    )


class TaskChangeSchema(RunSchema):
    """The fields of a task a client sets: at submit time, or later while it waits."""

    execute_at = Timestamp(
        metadata={
            "description": "Run at this time (ISO-8601; a naive time is read in "
            "TASKY_TIMEZONE); a time in the past means now."
        },
    )
    delay = _seconds(positive=False, description="Run after this many seconds.")

    @ma.validates_schema
    def _due(self, data, **kwargs):
        _not_both_due_fields(data)


def _retry_backoff() -> fields.Float:
    return _seconds(positive=True, description="Base seconds of the retry backoff.")


class TaskSubmitSchema(TaskChangeSchema):
    """Submitting one task."""

    retry_backoff = _retry_backoff()
    idempotency_key = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "A second submit with this key returns the first task."},
    )


class TriggerSchema(OptionalFieldsSchema):
    """A schedule's trigger and options. Whether a cron expression or a time zone is valid is
    the trigger's to say (``tasky.triggers``, through the service): both are 422 all the same."""

    cron = fields.String(
        metadata={
            "description": "5-field cron expression (or @hourly, @daily…): a recurring "
            "schedule instead of one task. Not together with interval."
        },
    )
    interval = fields.Float(
        validate=[
            validate.Range(min=0, min_inclusive=False, error="interval must be greater than 0"),
            validate.Range(max=MAX_SECONDS),
        ],
        metadata={
            "description": "Seconds: a recurring schedule firing every N seconds. "
            "Not together with cron."
        },
    )
    timezone = fields.String(
        validate=validate.Length(min=1, error="Give an IANA time zone name, e.g. Europe/Paris."),
        metadata={"description": "IANA time zone of the cron expression (default TASKY_TIMEZONE)."},
    )
    start_at = Timestamp(
        metadata={
            "description": "No run before this time; an interval schedule first fires "
            "at start_at (else one interval after its creation)."
        },
    )
    end_at = Timestamp(metadata={"description": "No run after this time."})
    overlap = fields.String(
        validate=validate.OneOf(OVERLAP_POLICIES),
        metadata={
            "description": "`skip` (default): no new run while the last one still runs; "
            "`allow`: runs may overlap."
        },
    )
    misfire = fields.String(
        validate=validate.OneOf(MISFIRE_POLICIES),
        metadata={
            "description": "After downtime: `run_once` (default), one catch-up run; `skip`, none."
        },
    )

    @ma.validates_schema
    def _trigger(self, data, **kwargs):
        errors = {}
        if data.get("cron") is not None and data.get("interval") is not None:
            message = "Give cron or interval, not both."
            errors.update(cron=[message], interval=[message])
        start_at, end_at = data.get("start_at"), data.get("end_at")
        if start_at is not None and end_at is not None and end_at < start_at:
            errors["end_at"] = ["end_at is before start_at."]
        if errors:
            raise ma.ValidationError(errors)


class SubmitSchema(TriggerSchema, TaskSubmitSchema):
    """``POST /workers/<name>``: one task, or with ``cron`` or ``interval`` a schedule."""


class TaskPatchSchema(TaskChangeSchema):
    pass


class BatchItemSchema(TaskSubmitSchema):
    """The tasks of a batch (loaded ``many``): a batch creates tasks, never schedules."""

    @ma.pre_load(pass_collection=True)
    def _no_schedule(self, items, many, **kwargs):
        errors = {}
        for index, item in enumerate(items if many and isinstance(items, list) else ()):
            found = (
                [name for name in SCHEDULE_FIELDS if name in item] if isinstance(item, dict) else []
            )
            if found:
                message = "A batch creates tasks only; submit a schedule on its own."
                errors[index] = {name: [message] for name in found}
        if errors:
            raise ma.ValidationError(errors)
        return items


class BatchSchema(RequestSchema):
    # Nested(many=True) loads the items in one pass of the schema, not one load per item.
    tasks = fields.Nested(
        BatchItemSchema,
        many=True,
        required=True,
        error_messages={"type": "Not a valid list of tasks."},
        validate=validate.Length(min=1, max=MAX_BATCH),
    )


class ActionSchema(RequestSchema):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))


class SchedulePatchSchema(TriggerSchema, RunSchema):
    """Changing a schedule: its trigger, config or options. A new cron replaces the interval
    and the other way round; null clears ``start_at``, ``end_at`` or ``timeout``."""

    retry_backoff = _retry_backoff()

    start_at = Timestamp(
        allow_none=True, metadata={"description": "No run before this time; null: no lower bound."}
    )
    end_at = Timestamp(
        allow_none=True, metadata={"description": "No run after this time; null: no end."}
    )


class ScheduleActionSchema(RequestSchema):
    action = fields.String(required=True, validate=validate.OneOf(SCHEDULE_ACTIONS))


class PageQuerySchema(ma.Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})


class ScheduleQuerySchema(PageQuerySchema):
    pass


class TaskQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf([s.value for s in TaskState]))
    worker = fields.String()
    schedule_id = fields.String()


# -- responses ------------------------------------------------------------------------------


class ParameterSchema(ma.Schema):
    type = fields.String()
    required = fields.Boolean()
    default = fields.Raw(allow_none=True)
    help = fields.String()
    min = fields.Float(metadata={"description": "Lowest value allowed, when bounded."})
    max = fields.Float(metadata={"description": "Highest value allowed, when bounded."})
    choices = fields.List(fields.Raw(), metadata={"description": "The values allowed, if listed."})


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
    status = fields.String()
    store = fields.String()
    version = fields.String()
    workers = fields.List(fields.String())
