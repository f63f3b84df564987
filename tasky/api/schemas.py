"""Request schemas: bodies and queries load into the records of ``tasky.requests`` (instants
as epoch seconds). They check shape (types, ranges, fields that exclude each other); what a
trigger means is the trigger's to say, and the rest the service's. Responses: ``responses``."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tasky.api.fields import Timestamp
from tasky.models import RunIf, TaskState
from tasky.requests import (
    BatchRequest,
    ScheduleChanges,
    TaskChanges,
    TaskRequest,
    schedule_fields_in,
    submit_request,
)
from tasky.schedules import MISFIRE_POLICIES, OVERLAP_POLICIES

MAX_SECONDS = 100 * 365 * 86400.0
"""Upper bound of any duration field: keeps every computed instant representable."""
MAX_RETRIES = 1000
MAX_BATCH = 10_000
MAX_LIMIT = 1000
MAX_PARENTS = 1000
TASK_ACTIONS = ("cancel", "pause", "resume", "run")
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


def retry_backoff_field() -> fields.Float:
    return _seconds(positive=True, description="Base seconds of the retry backoff.")


def run_if_field() -> fields.String:
    return fields.String(
        validate=validate.OneOf([rule.value for rule in RunIf]),
        metadata={
            "description": "When it runs once its parents have ended: `all_success` "
            "(default), `all_done`, `any_failed`, `none_failed`."
        },
    )


class DependentSchema(OptionalFieldsSchema):
    """A task that waits for other tasks."""

    depends_on = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(min=1, max=MAX_PARENTS),
        metadata={"description": "Ids of the tasks it waits for: `blocked` until they end."},
    )
    run_if = run_if_field()

    @ma.validates_schema
    def _rule_needs_parents(self, data, **kwargs):
        if "run_if" in data and "depends_on" not in data:
            raise ma.ValidationError({"run_if": ["Only with depends_on."]})


def callback_url_field() -> fields.String:
    return fields.String(
        validate=validate.Length(min=1, max=2000),
        metadata={
            "description": "http(s) URL receiving the terminal events (task.completed, "
            "task.failed, task.canceled, task.skipped) of this task, or of each run of a "
            "schedule or each step of a chain, signed with TASKY_WEBHOOK_SECRET."
        },
    )


class TaskSubmitSchema(TaskChangeSchema, DependentSchema):
    """Submitting one task."""

    retry_backoff = retry_backoff_field()
    idempotency_key = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "A second submit with this key returns the first task."},
    )
    callback_url = callback_url_field()


class TriggerSchema(OptionalFieldsSchema):
    """A schedule's trigger and options, by shape. What they mean (a valid cron expression or
    time zone, exactly one of cron and interval, end_at not before start_at) is the trigger's
    to say (``tasky.triggers``), and the interval floor the service's: 422 all the same."""

    cron = fields.String(
        metadata={
            "description": "5-field cron expression (or @hourly, @daily…): a recurring "
            "schedule instead of one task. Not together with interval."
        },
    )
    interval = fields.Float(
        validate=validate.Range(max=MAX_SECONDS),
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


LEAN_FIELDS = frozenset(
    {"config", "execute_at", "delay", "timeout", "max_retries", "retry_backoff", "idempotency_key"}
)
"""The fields of a task whose rules are their fields' own, besides "execute_at or delay"."""


class LeanTaskLoad(ma.Schema):
    """A task's body of ``LEAN_FIELDS`` only is loaded field by field, each by its declared
    field (its type, range and length checks), without marshmallow's schema pass: that pass
    was most of the time a submit spent parsing, and of a batch's insert. Any other body,
    and any that fails a check, is loaded in full, which words the errors."""

    def load(self, data, *, many=None, partial=None, unknown=None):
        many = self.many if many is None else many
        items = data if many else [data]
        if isinstance(items, list):
            lean = []
            for item in items:
                request = self._lean(item)
                if request is None:
                    break
                lean.append(request)
            else:
                return lean if many else lean[0]
        return super().load(data, many=many, partial=partial, unknown=unknown)

    def _lean(self, item: Any) -> TaskRequest | None:
        if not isinstance(item, dict) or not item.keys() <= LEAN_FIELDS:
            return None
        try:
            given: dict[str, Any] = {
                name: self.fields[name].deserialize(v, name, item) for name, v in item.items()
            }
            _not_both_due_fields(given)
        except ma.ValidationError:
            return None
        return TaskRequest(**given)


class SubmitSchema(LeanTaskLoad, TriggerSchema, TaskSubmitSchema):
    """``POST /workers/<name>``: one task, or with ``cron`` or ``interval`` a schedule."""

    @ma.post_load
    def _request(self, data, **kwargs):
        return submit_request(data)


class TaskPatchSchema(TaskChangeSchema):
    """Changing a task that has not started."""

    @ma.post_load
    def _changes(self, data, **kwargs):
        return TaskChanges(**data)


class BatchItemSchema(LeanTaskLoad, TaskSubmitSchema):
    """The tasks of a batch (loaded ``many``): a batch creates tasks, never schedules."""

    @ma.pre_load(pass_collection=True)
    def _no_schedule(self, items, many, **kwargs):
        errors = {}
        for index, item in enumerate(items if many and isinstance(items, list) else ()):
            found = schedule_fields_in(item) if isinstance(item, dict) else []
            if found:
                message = "A batch creates tasks only; submit a schedule on its own."
                errors[index] = {name: [message] for name in found}
        if errors:
            raise ma.ValidationError(errors)
        return items

    @ma.post_load
    def _request(self, data, **kwargs):
        return TaskRequest(**data)


class BatchSchema(RequestSchema):
    # Nested(many=True) loads the items in one pass of the schema, not one load per item.
    tasks = fields.Nested(
        BatchItemSchema,
        many=True,
        required=True,
        error_messages={"type": "Not a valid list of tasks."},
        validate=validate.Length(min=1, max=MAX_BATCH),
    )

    @ma.post_load
    def _request(self, data, **kwargs):
        return BatchRequest(data["tasks"])


class ActionSchema(RequestSchema):
    action = fields.String(required=True, validate=validate.OneOf(TASK_ACTIONS))


class SchedulePatchSchema(TriggerSchema, RunSchema):
    """Changing a schedule: its trigger, config or options. A new cron replaces the interval
    and the other way round; null clears ``start_at``, ``end_at`` or ``timeout``."""

    retry_backoff = retry_backoff_field()

    start_at = Timestamp(
        allow_none=True, metadata={"description": "No run before this time; null: no lower bound."}
    )
    end_at = Timestamp(
        allow_none=True, metadata={"description": "No run after this time; null: no end."}
    )

    @ma.post_load
    def _changes(self, data, **kwargs):
        return ScheduleChanges(**data)


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
    chain_id = fields.String()
