"""``/tasky/v1/webhooks``: endpoints receiving signed events, and their deliveries."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.context import get_service
from tasky.api.schemas import PageQuerySchema
from tasky.api.webhook_schemas import (
    DeliveryPageSchema,
    DeliverySchema,
    WebhookCreateSchema,
    WebhookPageSchema,
    WebhookPatchSchema,
    WebhookSchema,
    WebhookSecretSchema,
)

WEBHOOKS_URL = "/tasky/v1/webhooks"

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix=WEBHOOKS_URL,
    description="Webhooks: endpoints receiving task events, signed per Standard Webhooks.",
)
deliveries_blp = Blueprint(
    "webhook-deliveries",
    __name__,
    url_prefix="/tasky/v1/webhook-deliveries",
    description="One delivery of an event to an endpoint.",
)


@blp.route("/", strict_slashes=False)
class WebhookList(MethodView):
    @blp.arguments(PageQuerySchema(), location="query")
    @blp.response(200, WebhookPageSchema)
    def get(self, query):
        """List webhook endpoints, newest first"""
        return get_service().webhooks.list(query["limit"], query.get("cursor"))

    @blp.arguments(WebhookCreateSchema())
    @blp.response(201, WebhookSecretSchema)
    def post(self, body):
        """Create an endpoint; its secret is in this answer only"""
        endpoint = get_service().webhooks.create(body)
        return endpoint, 201, {"Location": f"{request.script_root}{WEBHOOKS_URL}/{endpoint.id}"}


@blp.route("/<webhook_id>")
class WebhookResource(MethodView):
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id):
        """An endpoint (without its secret)"""
        return get_service().webhooks.get(webhook_id)

    @blp.arguments(WebhookPatchSchema(), required=False)
    @blp.response(200, WebhookSchema)
    def patch(self, changes, webhook_id):
        """Change an endpoint's URL, events, filter or description; enable or disable it"""
        return get_service().webhooks.update(webhook_id, changes)

    @blp.response(204)
    def delete(self, webhook_id):
        """Delete an endpoint and its deliveries"""
        get_service().webhooks.delete(webhook_id)


@blp.route("/<webhook_id>/rotate")
class WebhookRotate(MethodView):
    @blp.response(200, WebhookSecretSchema)
    def post(self, webhook_id):
        """A new secret; the old one keeps signing (a second signature) for 24 h"""
        return get_service().webhooks.rotate(webhook_id)


@blp.route("/<webhook_id>/test")
class WebhookTest(MethodView):
    @blp.response(202, DeliverySchema)
    def post(self, webhook_id):
        """Send a ping event to the endpoint"""
        return get_service().webhooks.test(webhook_id)


@blp.route("/<webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.arguments(PageQuerySchema(), location="query")
    @blp.response(200, DeliveryPageSchema)
    def get(self, query, webhook_id):
        """The endpoint's deliveries, newest first"""
        return get_service().webhooks.deliveries(webhook_id, query["limit"], query.get("cursor"))


@deliveries_blp.route("/<delivery_id>/retry")
class DeliveryRetry(MethodView):
    @deliveries_blp.response(202, DeliverySchema)
    def post(self, delivery_id):
        """Send a delivery again now, with the same webhook-id"""
        return get_service().webhooks.retry(delivery_id)
