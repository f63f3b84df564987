"""Schemas of ``/tasky/v1/webhooks`` and ``/tasky/v1/webhook-deliveries``."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from tasky.api.fields import Timestamp
from tasky.api.schemas import OptionalFieldsSchema, RequestSchema
from tasky.requests import WebhookChanges, WebhookRequest
from tasky.webhooks.events import DEFAULT_EVENTS, DELIVERY_STATES, EVENTS

URL = validate.Length(min=1, max=2000)
TEXT = validate.Length(max=1000)
ID = validate.Length(min=1, max=200)


class FilterSchema(RequestSchema):
    worker = fields.String(allow_none=True, validate=ID)
    chain_id = fields.String(allow_none=True, validate=ID)
    schedule_id = fields.String(allow_none=True, validate=ID)


def _events_field() -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(EVENTS)),
        validate=validate.Length(min=1, max=len(EVENTS)),
        metadata={"description": f"Default: all of {', '.join(DEFAULT_EVENTS)}."},
    )


def _flat(data: dict) -> dict:
    """The filter's fields beside the others."""
    return {**{k: v for k, v in data.items() if k != "filter"}, **data.get("filter", {})}


class WebhookCreateSchema(RequestSchema):
    url = fields.String(required=True, validate=URL)
    events = _events_field()
    filter = fields.Nested(FilterSchema, metadata={"description": "Tasks to tell of (any)."})
    description = fields.String(allow_none=True, validate=TEXT)

    @ma.post_load
    def _request(self, data, **kwargs):
        return WebhookRequest(**_flat(data))


class WebhookPatchSchema(OptionalFieldsSchema):
    url = fields.String(validate=URL)
    events = _events_field()
    filter = fields.Nested(FilterSchema)
    description = fields.String(allow_none=True, validate=TEXT)
    enabled = fields.Boolean(metadata={"description": "false disables; true enables again."})

    @ma.post_load
    def _changes(self, data, **kwargs):
        return WebhookChanges(**_flat(data))


class WebhookSchema(ma.Schema):
    webhook_id = fields.String(attribute="id")
    url = fields.String()
    events = fields.List(fields.String())
    filter = fields.Method("_filter")
    description = fields.String(allow_none=True)
    enabled = fields.Method("_enabled")
    disabled_at = Timestamp(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    created_at = Timestamp()

    def _filter(self, endpoint) -> dict:
        return {
            "worker": endpoint.worker,
            "chain_id": endpoint.chain_id,
            "schedule_id": endpoint.schedule_id,
        }

    def _enabled(self, endpoint) -> bool:
        return endpoint.disabled_at is None


class WebhookSecretSchema(WebhookSchema):
    """An endpoint with its secret: the answer of a creation or a rotation only."""

    secret = fields.String(metadata={"description": "whsec_…: verify signatures with it."})


class WebhookPageSchema(ma.Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema))
    next_cursor = fields.String(allow_none=True)


class DeliverySchema(ma.Schema):
    delivery_id = fields.String(attribute="id", metadata={"description": "The webhook-id."})
    webhook_id = fields.String(allow_none=True)
    event = fields.String()
    status = fields.String(metadata={"enum": list(DELIVERY_STATES)})
    attempts = fields.Integer()
    next_attempt_at = Timestamp(metadata={"description": "When a pending delivery goes."})
    last_status = fields.Integer(allow_none=True, metadata={"description": "HTTP status."})
    last_latency = fields.Float(allow_none=True, metadata={"description": "Seconds."})
    last_answer = fields.String(allow_none=True, metadata={"description": "Its first KiB."})
    last_error = fields.String(allow_none=True)
    created_at = Timestamp()
    delivered_at = Timestamp(allow_none=True)


class DeliveryPageSchema(ma.Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema))
    next_cursor = fields.String(allow_none=True)
