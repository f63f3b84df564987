"""The HTTP layer: flask-smorest blueprints over ``tasky.service.Service``.

It parses, calls the service, and dumps; it holds no business logic and never touches the
store. ``init_app(app, service)`` wires it into an app (see ``tasky.factory``).
"""

from __future__ import annotations

from flask import Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from tasky.api import (
    backup,
    chains,
    dashboard,
    health,
    metrics,
    previews,
    schedules,
    tasks,
    webhooks,
    workers,
)
from tasky.api.auth import require_token
from tasky.api.context import EXTENSION, get_service
from tasky.api.errors import TaskyApi, register_error_handlers
from tasky.api.fields import Timestamp
from tasky.service import Service

__all__ = ["get_service", "init_app"]

SWAGGER_UI_URL = "/tasky/v1/docs/assets/"
"""Swagger UI's scripts and styles, served from the installed ``swagger-ui-bundle``: the docs
page works offline and loads no third-party code beside the token it may hold."""
SECURITY_SCHEMES = {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def init_app(app: Flask, service: Service) -> TaskyApi:
    """Register the API's blueprints, error handlers and token check on ``app``."""
    app.config.update(
        API_TITLE="Tasky",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/tasky/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_URL,
        MAX_CONTENT_LENGTH=service.settings.max_body,
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "security": [{"bearerAuth": []}],
            "info": {"description": "Tasky: a REST task runner and scheduler."},
        },
    )
    app.extensions[EXTENSION] = service

    api = TaskyApi()
    api.register_field(Timestamp, "string", "date-time")
    api.init_app(app)
    register_error_handlers(app, service.store)
    app.before_request(require_token)
    app.add_url_rule(
        f"{SWAGGER_UI_URL}<path:filename>",
        "swagger_ui_assets",
        lambda filename: send_from_directory(swagger_ui_path, filename),
    )
    for module in (workers, tasks, previews, schedules, chains, health, dashboard, backup):
        api.register_blueprint(module.blp)
    api.register_blueprint(dashboard.bulk_blp)
    api.register_blueprint(webhooks.blp)
    api.register_blueprint(webhooks.deliveries_blp)
    app.register_blueprint(metrics.blp)
    return api
