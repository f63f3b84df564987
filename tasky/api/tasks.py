"""``/tasky/v1/tasks``: reading, changing and deleting tasks."""

from __future__ import annotations

from flask.views import MethodView

from tasky.api.body import Blueprint
from tasky.api.context import TASKS_URL, get_service, task_location
from tasky.api.responses import (
    TaskPageSchema,
    TaskResultSchema,
    TaskSchema,
    TaskStatisticsSchema,
    TaskStatusSchema,
)
from tasky.api.schemas import ActionSchema, TaskPatchSchema, TaskQuerySchema
from tasky.models import TaskFilter, TaskState

blp = Blueprint(
    "tasks",
    __name__,
    url_prefix=TASKS_URL,
    description="Tasks: one stored request to run a worker.",
)

LOCATION = {"Location": {"description": "URL of the new task", "schema": {"type": "string"}}}


def _cancel_answer(task):
    """200 when the task is canceled now; 202 while a running one stops."""
    return task, 202 if task.status is TaskState.CANCELING else 200


@blp.route("/", strict_slashes=False)
class TaskList(MethodView):
    @blp.arguments(TaskQuerySchema(), location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, query):
        """List tasks, newest first"""
        filters = TaskFilter(
            status=TaskState(query["status"]) if "status" in query else None,
            worker=query.get("worker"),
            schedule_id=query.get("schedule_id"),
        )
        return get_service().tasks.list(filters, query["limit"], query.get("cursor"))


@blp.route("/<task_id>")
class TaskResource(MethodView):
    @blp.response(200, TaskSchema)
    def get(self, task_id):
        """The full record of a task"""
        return get_service().tasks.get(task_id)

    @blp.arguments(TaskPatchSchema(), required=False)
    @blp.response(200, TaskSchema)
    def patch(self, changes, task_id):
        """Change a task that has not started"""
        return get_service().tasks.update(task_id, changes)

    put = patch

    @blp.response(204)
    def delete(self, task_id):
        """Delete a finished task"""
        get_service().tasks.delete(task_id)


@blp.route("/<task_id>/status")
class TaskStatus(MethodView):
    @blp.response(200, TaskStatusSchema)
    def get(self, task_id):
        """A task's state and timing"""
        return get_service().tasks.get(task_id)


@blp.route("/<task_id>/result")
class TaskResult(MethodView):
    @blp.response(200, TaskResultSchema)
    def get(self, task_id):
        """A task's output (null until it has finished) and error"""
        return get_service().tasks.get(task_id)


@blp.route("/<task_id>/cancel")
class TaskCancel(MethodView):
    @blp.response(200, TaskSchema)
    @blp.alt_response(
        202,
        schema=TaskSchema,
        success=True,
        description="The task is running: canceling until its worker stops.",
    )
    def post(self, task_id):
        """Cancel a task"""
        return _cancel_answer(get_service().tasks.cancel(task_id))


@blp.route("/<task_id>/actions")
class TaskActions(MethodView):
    @blp.arguments(ActionSchema())
    @blp.response(200, TaskSchema)
    @blp.alt_response(
        201,
        schema=TaskSchema,
        headers=LOCATION,
        success=True,
        description="run of a finished task: the new task.",
    )
    @blp.alt_response(
        202,
        schema=TaskSchema,
        success=True,
        description="cancel of a running task: canceling until it stops.",
    )
    def post(self, body, task_id):
        """Cancel, pause, resume or run a task"""
        tasks = get_service().tasks
        action = body["action"]
        if action == "cancel":
            return _cancel_answer(tasks.cancel(task_id))
        if action == "pause":
            return tasks.pause(task_id)
        if action == "resume":
            return tasks.resume(task_id)
        task, created = tasks.run(task_id)
        return (task, 201, task_location(task.id)) if created else task


@blp.route("/<task_id>/statistics")
class TaskStatistics(MethodView):
    @blp.response(200, TaskStatisticsSchema)
    def get(self, task_id):
        """Seconds a task waited, ran, and how late it started"""
        return get_service().tasks.statistics(task_id)
