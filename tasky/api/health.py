"""``/tasky/v1/health``: is this server up and its store reachable."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from tasky.api.body import Blueprint
from tasky.api.context import get_service
from tasky.api.schemas import HealthSchema

blp = Blueprint(
    "health",
    __name__,
    url_prefix="/tasky/v1",
    description="Liveness and store reachability; never needs a token.",
)


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=ErrorSchema, description="The store is unreachable.")
    def get(self):
        """Report the server's health"""
        return get_service().health()
