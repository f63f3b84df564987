"""The routes the dashboard polls and acts through: ``GET /tasky/v1/live`` (task states, with
ETag/304), ``GET /tasky/v1/overview`` (counts and activity) and ``POST /tasky/v1/tasks/actions``
(an action on every task of a filter). All need the token, as the other API routes do."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, jsonify, request
from flask.views import MethodView
from marshmallow import fields, validate

from tasky.api.body import Blueprint
from tasky.api.context import TASKS_URL, get_service
from tasky.api.fields import Timestamp
from tasky.api.responses import TaskItemSchema
from tasky.api.schemas import RequestSchema
from tasky.bulk import BULK_ACTIONS
from tasky.models import TaskFilter, TaskState
from tasky.service.dashboard import RANGES
from tasky.timedcache import Kept, etag_of

blp = Blueprint(
    "dashboard_api",
    __name__,
    url_prefix="/tasky/v1",
    description="What the dashboard polls: live task states and the overview.",
)
bulk_blp = Blueprint(
    "bulk_actions",
    __name__,
    url_prefix=TASKS_URL,
    description="Actions on every task of a filter.",
)


QUERIES_HEADER = "Tasky-Dashboard-Queries"
"""Store queries the dashboard's routes have made in this process: what open tabs cost."""


def conditional(kept: Kept, schema: ma.Schema):
    """A 304 when the client holds this version (If-None-Match), else the dumped value; the
    ETag either way."""
    headers = {
        "ETag": kept.etag,
        "Cache-Control": "no-cache",
        QUERIES_HEADER: str(get_service().dashboard.store_queries),
    }
    if kept.etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    # dumped here, so the view's @blp.response only documents (a Response passes through)
    return jsonify(schema.dump(kept.value)), 200, headers


# -- live feed ----------------------------------------------------------------------------------


class FeedSchema(ma.Schema):
    newest_task_id = fields.String(allow_none=True, metadata={"description": "The newest task."})
    tasks = fields.List(
        fields.Nested(TaskItemSchema),
        metadata={"description": "Tasks running now and the latest finished ones."},
    )


FEED = FeedSchema()


@blp.route("/live")
class Live(MethodView):
    @blp.response(200, FeedSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(304, description="Unchanged since the ETag sent as If-None-Match.")
    def get(self):
        """Tasks running now or finished lately, and the newest task id

        Kept per process for a second, whatever the number of clients: send the ETag back as
        If-None-Match to get a 304 while nothing changed.
        """
        return conditional(get_service().dashboard.feed(), FEED)


# -- overview -----------------------------------------------------------------------------------


class OverviewQuerySchema(ma.Schema):
    range = fields.String(
        load_default="1h",
        validate=validate.OneOf(list(RANGES)),
        metadata={"description": "The activity's range: 15m, 1h, 24h or 7d."},
    )


class WorkerCountSchema(ma.Schema):
    waiting = fields.Integer()
    running = fields.Integer()
    finished = fields.Integer()
    total = fields.Integer()


class CountsSchema(ma.Schema):
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_worker = fields.Dict(keys=fields.String(), values=fields.Nested(WorkerCountSchema))
    counted_at = Timestamp(metadata={"description": "When these counts were taken."})
    max_age = fields.Float(
        metadata={"description": "Seconds until the next count (longer for a big table)."}
    )
    estimated = fields.Constant(False)


class PointSchema(ma.Schema):
    at = Timestamp(metadata={"description": "Start of the bucket."})
    completed = fields.Integer()
    failed = fields.Integer()
    canceled = fields.Integer()
    lateness_p50 = fields.Float(allow_none=True)
    lateness_p95 = fields.Float(allow_none=True)


class SeriesSchema(ma.Schema):
    range = fields.String()
    bucket_seconds = fields.Float()
    start = Timestamp()
    points = fields.List(fields.Nested(PointSchema))
    truncated = fields.Boolean(metadata={"description": "Only the latest tasks were read."})
    computed_at = Timestamp()


class OverviewSchema(ma.Schema):
    counts = fields.Nested(
        CountsSchema,
        allow_none=True,
        metadata={"description": "null until this server process has counted the tasks."},
    )
    series = fields.Nested(SeriesSchema)


OVERVIEW = OverviewSchema()


@blp.route("/overview")
class Overview(MethodView):
    @blp.arguments(OverviewQuerySchema(), location="query")
    @blp.response(200, OverviewSchema)
    @blp.alt_response(304, description="Unchanged since the ETag sent as If-None-Match.")
    def get(self, query):
        """Tasks by state and worker; finished tasks and start lateness over a range

        The counts are taken at most every 10 s per process, in the background (a page view
        never counts the table); `counted_at` says when.
        """
        value = get_service().dashboard.overview(query["range"])
        kept = Kept(value, 0.0, etag_of(value))
        return conditional(kept, OVERVIEW)


# -- bulk actions -------------------------------------------------------------------------------


class BulkFilterSchema(RequestSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in TaskState]))
    worker = fields.String()
    schedule_id = fields.String()


class BulkActionSchema(RequestSchema):
    action = fields.String(required=True, validate=validate.OneOf(list(BULK_ACTIONS)))
    filter = fields.Nested(BulkFilterSchema, load_default=dict)
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Only count the tasks that match, and answer max_id."},
    )
    max_id = fields.String(
        validate=validate.Regexp(r"^[0-9a-f]{1,32}$", error="Not a task id."),
        metadata={
            "description": "Act only on tasks whose id is at most this one: the max_id of "
            "the dry run, so that tasks created since the count are left alone. "
            "Default: the newest task matching now."
        },
    )

    counted = fields.Integer(
        validate=validate.Range(min=0),
        metadata={
            "description": "The dry run's `matched`: tasks that left the filter since "
            "the count are then reported as skipped."
        },
    )


class BulkFilterOutSchema(ma.Schema):
    status = fields.String(allow_none=True)
    worker = fields.String(allow_none=True)
    schedule_id = fields.String(allow_none=True)


class BulkAnswerSchema(ma.Schema):
    action = fields.String()
    filter = fields.Nested(BulkFilterOutSchema)
    max_id = fields.String(allow_none=True)
    states = fields.List(fields.String(), metadata={"description": "States the action fits."})
    matched = fields.Integer(metadata={"description": "dry run: tasks matching, any state."})
    eligible = fields.Integer(metadata={"description": "dry run: of them, in `states`."})
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    acted = fields.Integer(metadata={"description": "Tasks the action changed."})
    skipped = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": "Tasks left alone, by why: their state, or a change of state"
            " between the count and the action."
        },
    )
    skipped_total = fields.Integer()


BULK_ANSWER = BulkAnswerSchema()


@bulk_blp.route("/actions")
class BulkActions(MethodView):
    @bulk_blp.arguments(BulkActionSchema())
    @bulk_blp.response(200, BulkAnswerSchema)
    def post(self, body):
        """Cancel, pause, resume, run or delete every task of a filter (dry_run: count them)"""
        given = body["filter"]
        filters = TaskFilter(
            status=TaskState(given["status"]) if "status" in given else None,
            worker=given.get("worker"),
            schedule_id=given.get("schedule_id"),
        )
        dashboard = get_service().dashboard
        if body["dry_run"]:
            return dashboard.bulk_count(filters, body["action"])
        return dashboard.bulk_act(filters, body["action"], body.get("max_id"), body.get("counted"))
