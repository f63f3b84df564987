"""``/tasky/v1/workers``: the worker plugins, and submitting tasks to them."""

from __future__ import annotations

from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.context import get_service, schedule_location, task_location
from tasky.api.schedules import dumped
from tasky.api.schemas import (
    BatchSchema,
    BatchSubmittedSchema,
    ScheduleSubmittedSchema,
    SubmitSchema,
    SubmittedSchema,
    WorkerSchema,
    WorkerStatisticsSchema,
)

blp = Blueprint(
    "workers",
    __name__,
    url_prefix="/tasky/v1/workers",
    description="Worker plugins; POST to a worker submits a task or a schedule.",
)

LOCATION = {"Location": {"description": "URL of the task", "schema": {"type": "string"}}}
CREATED_LOCATION = {
    "Location": {"description": "URL of the new task or schedule", "schema": {"type": "string"}}
}
SUBMIT_ANSWER = {"oneOf": [SubmittedSchema, ScheduleSubmittedSchema]}


SUBMITTED = SubmittedSchema()
SCHEDULE_SUBMITTED = ScheduleSubmittedSchema()


@blp.route("/", strict_slashes=False)
class WorkerList(MethodView):
    @blp.response(200, WorkerSchema(many=True))
    def get(self):
        """List the workers"""
        return get_service().list_workers()


@blp.route("/<name>/info")
class WorkerInfo(MethodView):
    @blp.response(200, WorkerSchema)
    def get(self, name):
        """Describe one worker: usage, example config, parameters"""
        return get_service().worker_info(name)


@blp.route("/<name>/statistics")
class WorkerStatistics(MethodView):
    @blp.response(200, WorkerStatisticsSchema)
    def get(self, name):
        """Counts and durations over the worker's stored tasks"""
        return get_service().worker_statistics(name)


@blp.route("/<name>")
class WorkerSubmit(MethodView):
    @blp.arguments(SubmitSchema(), required=False)
    @blp.response(
        201,
        SUBMIT_ANSWER,
        headers=CREATED_LOCATION,
        description="The new task (Submitted), or with cron or interval the new "
        "schedule (ScheduleSubmitted).",
    )
    @blp.alt_response(
        200,
        schema=SubmittedSchema,
        headers=LOCATION,
        success=True,
        description="The idempotency key matched a stored task: that task.",
    )
    def post(self, request, name):
        """Submit a task (now, at execute_at, after delay) or a schedule (cron, interval)"""
        submitted = get_service().submit(name, request)
        if submitted.schedule is not None:
            return (
                dumped(SCHEDULE_SUBMITTED, submitted.schedule),
                201,
                schedule_location(submitted.schedule.id),
            )
        return (
            dumped(SUBMITTED, submitted.task),
            201 if submitted.created else 200,
            task_location(submitted.task.id),
        )


@blp.route("/<name>/batch")
class WorkerBatch(MethodView):
    @blp.arguments(BatchSchema())
    @blp.response(201, BatchSubmittedSchema)
    def post(self, batch, name):
        """Submit many tasks at once, all or nothing"""
        tasks = get_service().submit_batch(name, batch["tasks"])
        return {"task_ids": [task.id for task in tasks]}
