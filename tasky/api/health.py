"""``/tasky/v1/health`` (is this server up, its store reachable, its runner running) and
``/tasky/v1/runners`` (the runner processes sharing the store)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from tasky.api.body import Blueprint
from tasky.api.context import get_service
from tasky.api.responses import HealthSchema, RunnersSchema

blp = Blueprint(
    "operations",
    __name__,
    url_prefix="/tasky/v1",
    description="Health (never needs a token) and the runners sharing the store.",
)


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @blp.alt_response(
        503,
        schema=ErrorSchema,
        description="The store is unreachable, or this server's runner is down: the "
        "reason is in message.",
    )
    def get(self):
        """Report the server's health"""
        return get_service().operations.health()


@blp.route("/runners")
class Runners(MethodView):
    @blp.response(200, RunnersSchema)
    def get(self):
        """The runner processes sharing the store, live or gone, with what they run"""
        return get_service().operations.runners()
