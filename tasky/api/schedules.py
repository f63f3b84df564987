"""``/tasky/v1/schedules``: reading, changing, pausing, firing and deleting schedules. A
schedule is created by submitting to a worker with ``cron`` or ``interval``."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.context import SCHEDULES_URL, get_service, task_location
from tasky.api.schemas import (
    ScheduleActionSchema,
    SchedulePageSchema,
    SchedulePatchSchema,
    ScheduleQuerySchema,
    ScheduleSchema,
    TaskSchema,
)

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
        return get_service().list_schedules(query["limit"], query.get("cursor"))


@blp.route("/<schedule_id>")
class ScheduleResource(MethodView):
    @blp.response(200, ScheduleSchema)
    def get(self, schedule_id):
        """A schedule: its trigger, options, state and runs"""
        return get_service().get_schedule(schedule_id)

    @blp.arguments(SchedulePatchSchema(), required=False)
    @blp.response(200, ScheduleSchema)
    def patch(self, changes, schedule_id):
        """Change a schedule's trigger, config or options; next_run_at is recomputed"""
        return get_service().update_schedule(schedule_id, changes)

    put = patch

    @blp.response(204)
    def delete(self, schedule_id):
        """Delete a schedule; its runs that have not started are canceled, the others kept"""
        get_service().delete_schedule(schedule_id)


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
        submitted = get_service().schedule_action(schedule_id, body["action"])
        if submitted.task is not None:
            return dumped(TASK, submitted.task), 201, task_location(submitted.task.id)
        return submitted.schedule
