"""What every view needs: the app's one ``TaskService``, and the URLs of what it creates."""

from __future__ import annotations

from flask import current_app, url_for

from tasky.service import TaskService

EXTENSION = "tasky_service"


def get_service() -> TaskService:
    return current_app.extensions[EXTENSION]


def task_location(task_id: str) -> dict[str, str]:
    return {"Location": url_for("tasks.TaskResource", task_id=task_id)}


def schedule_location(schedule_id: str) -> dict[str, str]:
    return {"Location": url_for("schedules.ScheduleResource", schedule_id=schedule_id)}
