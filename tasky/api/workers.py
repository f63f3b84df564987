"""``/tasky/v1/workers``: the worker plugins, and submitting tasks to them."""

from __future__ import annotations

from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.context import current_request, get_service, schedule_location, task_location
from tasky.api.responses import (
    BatchSubmittedSchema,
    ScheduleSubmittedSchema,
    SubmittedSchema,
    WorkerSchema,
    WorkerStatisticsSchema,
)
from tasky.api.schedules import dumped
from tasky.api.schemas import BatchSchema, SubmitSchema
from tasky.requests import ScheduleRequest

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


@blp.before_request
def _worker_first() -> None:
    """A submit to an unknown worker is a 404, to a disabled one a 403, whatever its body:
    checked before the body is read."""
    req = current_request()
    if req.method == "POST" and req.view_args and "name" in req.view_args:
        get_service().workers.enabled(req.view_args["name"])


@blp.route("/", strict_slashes=False)
class WorkerList(MethodView):
    @blp.response(200, WorkerSchema(many=True))
    def get(self):
        """List the workers"""
        return get_service().workers.list()


@blp.route("/<name>/info")
class WorkerInfo(MethodView):
    @blp.response(200, WorkerSchema)
    def get(self, name):
        """Describe one worker: usage, example config, parameters"""
        return get_service().workers.get(name)


@blp.route("/<name>/statistics")
class WorkerStatistics(MethodView):
    @blp.response(200, WorkerStatisticsSchema)
    def get(self, name):
        """Counts and durations over the worker's stored tasks"""
        return get_service().workers.statistics(name)


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
    def post(self, body, name):
        """Submit a task (now, at execute_at, after delay) or a schedule (cron, interval)"""
        service = get_service()
        if isinstance(body, ScheduleRequest):
            schedule = service.schedules.create(name, body)
            return dumped(SCHEDULE_SUBMITTED, schedule), 201, schedule_location(schedule.id)
        task, created = service.tasks.submit(name, body)
        return dumped(SUBMITTED, task), 201 if created else 200, task_location(task.id)


@blp.route("/<name>/batch")
class WorkerBatch(MethodView):
    @blp.arguments(BatchSchema())
    @blp.response(201, BatchSubmittedSchema)
    def post(self, batch, name):
        """Submit many tasks at once, all or nothing"""
        return get_service().tasks.submit_batch(name, batch)
