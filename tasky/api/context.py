"""Where views find the one ``TaskService`` of their app."""

from __future__ import annotations

from flask import current_app

from tasky.service import TaskService

EXTENSION = "tasky_service"


def get_service() -> TaskService:
    return current_app.extensions[EXTENSION]
