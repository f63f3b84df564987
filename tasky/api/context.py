"""What every view needs: the app's one ``Service``, and the URLs of what it creates.

The URLs are written out, not built by ``url_for``: on the submit route that search of the
URL map cost about a tenth of the request's own time. Ids are URL-safe (hex)."""

from __future__ import annotations

from flask import Request, current_app, request

from tasky.service import Service

EXTENSION = "tasky_service"
TASKS_URL = "/tasky/v1/tasks"
SCHEDULES_URL = "/tasky/v1/schedules"


def get_service() -> Service:
    return current_app.extensions[EXTENSION]


def current_request() -> Request:
    """The request itself rather than its proxy: each read through ``flask.request`` looks
    the request up again (about 3 µs on a 2-core machine), so a hook that reads several of
    its attributes takes it once."""
    return request._get_current_object()  # type: ignore[attr-defined]


def task_location(task_id: str) -> dict[str, str]:
    return {"Location": f"{request.script_root}{TASKS_URL}/{task_id}"}


def schedule_location(schedule_id: str) -> dict[str, str]:
    return {"Location": f"{request.script_root}{SCHEDULES_URL}/{schedule_id}"}
