"""``/tasky/v1/chains``: submitting, reading, canceling, retrying, drawing and deleting
chains of tasks."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.chain_schemas import (
    ChainActionSchema,
    ChainPageSchema,
    ChainQuerySchema,
    ChainSchema,
    ChainSubmitSchema,
    ChainSubmittedSchema,
    GraphQuerySchema,
    chain_page,
)
from tasky.api.context import get_service, schedule_location
from tasky.api.responses import ScheduleSubmittedSchema
from tasky.api.schedules import dumped
from tasky.models import TaskState
from tasky.requests import ChainScheduleRequest
from tasky.service.chains import ChainView

CHAINS_URL = "/tasky/v1/chains"
GRAPH_TYPES = {"mermaid": "text/vnd.mermaid", "dot": "text/vnd.graphviz"}

blp = Blueprint(
    "chains",
    __name__,
    url_prefix=CHAINS_URL,
    description="Chains: named steps that depend on each other, submitted together.",
)

SCHEDULE_SUBMITTED = ScheduleSubmittedSchema()
CHAIN_SUBMITTED = ChainSubmittedSchema()
LOCATION = {"Location": {"description": "URL of the chain", "schema": {"type": "string"}}}


def _location(chain_id: str) -> dict[str, str]:
    return {"Location": f"{request.script_root}{CHAINS_URL}/{chain_id}"}


def _cancel_answer(view: ChainView):
    """200 when every step has ended; 202 while running steps stop."""
    stopping = any(step.status is TaskState.CANCELING for step in view.steps)
    return view, 202 if stopping else 200


@blp.route("/", strict_slashes=False)
class ChainList(MethodView):
    @blp.arguments(ChainQuerySchema(), location="query")
    @blp.response(200, ChainPageSchema)
    def get(self, query):
        """List chains, newest first"""
        page, counts = get_service().chains.list(
            query["limit"], query.get("cursor"), query.get("name")
        )
        return chain_page(page, counts)

    @blp.arguments(ChainSubmitSchema())
    @blp.response(
        201,
        {"oneOf": [ChainSubmittedSchema, ScheduleSubmittedSchema]},
        headers=LOCATION,
        description="The new chain (ChainSubmitted), or with cron or interval the new "
        "schedule (ScheduleSubmitted).",
    )
    @blp.alt_response(
        200,
        schema=ChainSubmittedSchema,
        headers=LOCATION,
        success=True,
        description="The idempotency key matched a stored chain: that chain.",
    )
    def post(self, body):
        """Submit a chain (all its steps, or none), or with cron or interval a schedule of it"""
        if isinstance(body, ChainScheduleRequest):
            schedule = get_service().schedules.create_chain(body)
            return dumped(SCHEDULE_SUBMITTED, schedule), 201, schedule_location(schedule.id)
        view, created = get_service().chains.submit(body)
        return dumped(CHAIN_SUBMITTED, view), 201 if created else 200, _location(view.chain.id)


@blp.route("/<chain_id>")
class ChainResource(MethodView):
    @blp.response(200, ChainSchema)
    def get(self, chain_id):
        """A chain: its status, counts and steps"""
        return get_service().chains.get(chain_id)

    @blp.response(204)
    def delete(self, chain_id):
        """Delete a chain whose every step has ended, with its steps"""
        get_service().chains.delete(chain_id)


@blp.route("/<chain_id>/cancel")
class ChainCancel(MethodView):
    @blp.response(200, ChainSchema)
    @blp.alt_response(
        202, schema=ChainSchema, success=True, description="Running steps are canceling."
    )
    def post(self, chain_id):
        """Cancel every unfinished step"""
        return _cancel_answer(get_service().chains.cancel(chain_id))


@blp.route("/<chain_id>/actions")
class ChainActions(MethodView):
    @blp.arguments(ChainActionSchema())
    @blp.response(200, ChainSchema)
    @blp.alt_response(
        202, schema=ChainSchema, success=True, description="cancel: running steps are canceling."
    )
    def post(self, body, chain_id):
        """Cancel a chain, or retry its failed, canceled and skipped steps"""
        chains = get_service().chains
        if body["action"] == "cancel":
            return _cancel_answer(chains.cancel(chain_id))
        return chains.retry(chain_id)


@blp.route("/<chain_id>/graph")
class ChainGraph(MethodView):
    @blp.arguments(GraphQuerySchema(), location="query")
    @blp.response(200, {"type": "string"}, content_type="text/plain")
    def get(self, query, chain_id):
        """The chain's steps and dependencies as Mermaid or Graphviz (dot) text"""
        text = get_service().chains.graph(chain_id, query["format"])
        return Response(text, mimetype=GRAPH_TYPES[query["format"]])
