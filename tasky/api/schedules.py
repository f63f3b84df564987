"""``/tasky/v1/schedules``: reading, changing, pausing, firing and deleting schedules. A
schedule is created by submitting to a worker with ``cron`` or ``interval``."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.context import SCHEDULES_URL, get_service, task_location
from tasky.api.responses import SchedulePageSchema, ScheduleSchema, TaskSchema
from tasky.api.schemas import ScheduleActionSchema, SchedulePatchSchema, ScheduleQuerySchema

blp = Blueprint(
    "schedules",
    __name__,
    url_prefix=SCHEDULES_URL,
    description="Schedules: a cron or interval trigger that submits tasks to its "
    "worker. Create one with POST /tasky/v1/workers/<name> and a cron "
    "or interval.",
)

TASK_LOCATION = {"Location": {"description": "URL of the new task", "schema": {"type": "string"}}}


TASK = TaskSchema()


def dumped(schema: ma.Schema, obj: Any) -> Response:
    """``obj`` dumped by ``schema``, for a view whose answers have different schemas (its
    ``@blp.response`` then only documents; flask-smorest passes a ``Response`` through)."""
    return jsonify(schema.dump(obj))


@blp.route("/", strict_slashes=False)
class ScheduleList(MethodView):
    @blp.arguments(ScheduleQuerySchema(), location="query")
    @blp.response(200, SchedulePageSchema)
    def get(self, query):
        """List schedules, newest first"""
        return get_service().schedules.list(query["limit"], query.get("cursor"))


@blp.route("/<schedule_id>")
class ScheduleResource(MethodView):
    @blp.response(200, ScheduleSchema)
    def get(self, schedule_id):
        """A schedule: its trigger, options, state and runs"""
        return get_service().schedules.get(schedule_id)

    @blp.arguments(SchedulePatchSchema(), required=False)
    @blp.response(200, ScheduleSchema)
    def patch(self, changes, schedule_id):
        """Change a schedule's trigger, config or options; next_run_at is recomputed"""
        return get_service().schedules.update(schedule_id, changes)

    put = patch

    @blp.response(204)
    def delete(self, schedule_id):
        """Delete a schedule; its runs that have not started are canceled, the others kept"""
        get_service().schedules.delete(schedule_id)


@blp.route("/<schedule_id>/actions")
class ScheduleActions(MethodView):
    @blp.arguments(ScheduleActionSchema())
    @blp.response(200, ScheduleSchema, description="pause or resume: the schedule.")
    @blp.alt_response(
        201,
        schema=TaskSchema,
        headers=TASK_LOCATION,
        success=True,
        description="run: the task it fired now, outside its trigger.",
    )
    def post(self, body, schedule_id):
        """Pause, resume, or run a schedule once now"""
        schedules = get_service().schedules
        action = body["action"]
        if action == "pause":
            return schedules.pause(schedule_id)
        if action == "resume":
            return schedules.resume(schedule_id)
        task = schedules.run(schedule_id)
        return dumped(TASK, task), 201, task_location(task.id)
