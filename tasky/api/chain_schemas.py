"""Schemas of ``/tasky/v1/chains``: the chain a client submits, and the chains it reads."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tasky.api.fields import Timestamp
from tasky.api.schemas import (
    MAX_BATCH,
    MAX_PARENTS,
    DependentSchema,
    PageQuerySchema,
    RequestSchema,
    TaskChangeSchema,
    TriggerSchema,
    callback_url_field,
    retry_backoff_field,
)
from tasky.models import FailurePolicy
from tasky.requests import (
    SCHEDULE_FIELDS,
    ChainRequest,
    ChainScheduleRequest,
    ScheduleRequest,
    StepRequest,
    TaskRequest,
)
from tasky.service.chains import ChainView, chain_status

NAME = validate.Length(min=1, max=200)
CHAIN_ACTIONS = ("cancel", "retry")
GRAPH_FORMATS = ("mermaid", "dot")


class StepSchema(TaskChangeSchema, DependentSchema):
    """A step: a submit body plus ``worker``, its ``step`` name and the names of the steps
    it ``depends_on``."""

    step = fields.String(validate=NAME, metadata={"description": "Its name in the chain."})
    worker = fields.String(validate=NAME, metadata={"description": "The worker it runs."})
    retry_backoff = retry_backoff_field()
    depends_on = fields.List(
        fields.String(validate=NAME),
        validate=validate.Length(max=MAX_PARENTS),
        metadata={"description": "Names of the steps it waits for."},
    )

    @ma.validates_schema
    def _named(self, data, **kwargs):
        missing = {name: ["Missing data for required field."] for name in ("step", "worker")}
        for name in data:
            missing.pop(name, None)
        if missing:
            raise ma.ValidationError(missing)

    @ma.post_load
    def _request(self, data, **kwargs):
        step, worker = data.pop("step"), data.pop("worker")
        return StepRequest(step, worker, TaskRequest(**data))


class ChainSubmitSchema(TriggerSchema):
    """A chain; with ``cron`` or ``interval`` (and the trigger's options) a schedule whose
    every tick stores one run of it."""

    steps = fields.Nested(  # required: checked by _steps_given (the load is partial)
        StepSchema,
        many=True,
        error_messages={"type": "Not a valid list of steps."},
        validate=validate.Length(min=1, max=MAX_BATCH),
    )
    name = fields.String(validate=NAME)
    idempotency_key = fields.String(
        validate=NAME,
        metadata={"description": "A second submit with this key returns the first chain."},
    )
    callback_url = callback_url_field()
    failure_policy = fields.String(
        validate=validate.OneOf([policy.value for policy in FailurePolicy]),
        metadata={
            "description": "`continue` (default): independent branches go on after a failure;"
            " `cancel_all`: the first failed step cancels every unfinished step."
        },
    )

    @ma.validates_schema
    def _steps_given(self, data, **kwargs):
        if "steps" not in data:
            raise ma.ValidationError({"steps": ["Missing data for required field."]})
        if ("cron" in data or "interval" in data) and "idempotency_key" in data:
            raise ma.ValidationError({"idempotency_key": ["Not for a schedule."]})

    @ma.post_load
    def _request(self, data, **kwargs):
        trigger = {name: data.pop(name) for name in SCHEDULE_FIELDS if name in data}
        chain = ChainRequest(**data)
        if "cron" in trigger or "interval" in trigger:
            return ChainScheduleRequest(chain, ScheduleRequest(**trigger))
        if trigger:
            message = "Only for a schedule (with cron or interval)."
            raise ma.ValidationError({name: [message] for name in trigger})
        return chain


class ChainActionSchema(RequestSchema):
    action = fields.String(required=True, validate=validate.OneOf(CHAIN_ACTIONS))


class ChainQuerySchema(PageQuerySchema):
    name = fields.String()


class GraphQuerySchema(ma.Schema):
    format = fields.String(load_default="mermaid", validate=validate.OneOf(GRAPH_FORMATS))


# -- answers ---------------------------------------------------------------------------------


class ChainStepSchema(ma.Schema):
    step = fields.String()
    task_id = fields.String()
    worker = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    depends_on = fields.List(fields.String(), metadata={"description": "Step names."})
    run_if = fields.String(allow_none=True)
    skip_reason = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class ChainItemSchema(ma.Schema):
    chain_id = fields.String(attribute="id")
    name = fields.String(allow_none=True)
    status = fields.String(
        metadata={"enum": ["running", "completed", "failed", "canceling", "canceled"]}
    )
    failure_policy = fields.String()
    created_at = Timestamp()
    canceled_at = Timestamp(allow_none=True)
    counts = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "Steps by state."}
    )


class ChainSchema(ChainItemSchema):
    steps = fields.List(fields.Nested(ChainStepSchema))
    layers = fields.List(
        fields.List(fields.String()),
        metadata={
            "description": "Step names by topological layer, as the dashboard draws the"
            " chain left to right: layer 0 holds the steps without parents, each other step"
            " is one layer after its deepest parent; within a layer, in drawing order."
        },
    )

    @ma.pre_dump
    def _flatten(self, view: ChainView, **kwargs) -> dict[str, Any]:
        names = view.step_names()
        return {
            **_item(view.chain, view.counts, view.status),
            "steps": [
                {
                    "step": names[task.id],
                    "task_id": task.id,
                    "worker": task.worker,
                    "status": task.status,
                    "attempts": task.attempts,
                    "depends_on": [names.get(p, p) for p in task.depends_on or ()],
                    "run_if": task.run_if,
                    "skip_reason": task.skip_reason,
                    "error": task.error,
                }
                for task in view.steps
            ],
            "layers": view.layers(),
        }


class ChainSubmittedSchema(ma.Schema):
    chain_id = fields.String()
    name = fields.String(allow_none=True)
    status = fields.String()
    steps = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "Task id by step."}
    )

    @ma.pre_dump
    def _ids(self, view: ChainView, **kwargs) -> dict[str, Any]:
        names = view.step_names()
        return {
            "chain_id": view.chain.id,
            "name": view.chain.name,
            "status": view.status,
            "steps": {names[task.id]: task.id for task in view.steps},
        }


class ChainPageSchema(ma.Schema):
    chains = fields.List(fields.Nested(ChainItemSchema))
    next_cursor = fields.String(allow_none=True)


def _item(chain, counts: dict[str, int], status: str) -> dict[str, Any]:
    return {
        "id": chain.id,
        "name": chain.name,
        "status": status,
        "failure_policy": chain.failure_policy,
        "created_at": chain.created_at,
        "canceled_at": chain.canceled_at,
        "counts": counts,
    }


def chain_page(page, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """A page of chains as ``ChainPageSchema`` dumps it: each with its status and counts."""
    return {
        "chains": [
            _item(c, counts.get(c.id, {}), chain_status(counts.get(c.id, {}), c.canceled_at))
            for c in page.chains
        ],
        "next_cursor": page.next_cursor,
    }
