"""One error shape for every failure: ``{"code", "status", "message", "errors"}``.

Three handlers produce it, all registered by ``register_error_handlers``: one for
``TaskyError`` (the service's refusals), one for the store's outage errors (503), and one for
Werkzeug's ``HTTPException`` (routing, body parsing, webargs validation, auth, and every
unhandled exception, which Flask logs with its trace and hands over as a 500).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Protocol

from flask import Flask, current_app, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from tasky.errors import InvalidInput, StoreUnavailable, TaskyError

logger = logging.getLogger(__name__)

WEBARGS_LOCATIONS = frozenset(
    {
        "json",
        "query",
        "querystring",
        "form",
        "headers",
        "cookies",
        "files",
        "view_args",
        "path",
        "json_or_form",
    }
)


def error_body(code: int, message: str, errors: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Unknown Error"),
        "message": message,
    }
    if errors:
        body["errors"] = _str_keys(errors)
    return body


def _str_keys(value: Any) -> Any:
    """JSON object keys are strings: list indexes in marshmallow errors (``{"tasks": {3:
    ...}}``) become ``"3"``, which also keeps mixed keys sortable by the JSON encoder."""
    if isinstance(value, dict):
        return {str(k): _str_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_str_keys(v) for v in value]
    return value


def _flatten_locations(messages: Any) -> Any:
    """webargs nests errors by location (``{"json": {"delay": [...]}}``); clients see them
    per field (``{"delay": [...]}``), as the service reports its own."""
    if not isinstance(messages, dict) or not set(messages) <= WEBARGS_LOCATIONS:
        return messages
    flat: dict[Any, Any] = {}
    for per_location in messages.values():
        if isinstance(per_location, dict):
            flat.update(per_location)
        else:
            flat.setdefault("_schema", []).extend(
                per_location if isinstance(per_location, list) else [per_location]
            )
    return flat


def _default_message(error: HTTPException) -> str:
    code = error.code or 500
    if code == 404:
        return f"No route {request.path}."
    if code == 405:
        return f"{request.method} is not allowed on {request.path}."
    if code == 413:
        return (
            f"The body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes "
            "(TASKY_MAX_BODY)."
        )
    if code == 422:
        return InvalidInput.__doc__ or "Invalid input."
    if code >= 500:
        return "Internal server error; the server log has the details."
    return error.description or HTTP_STATUS_CODES.get(code, "Error")


class TaskyApi(Api):
    """flask-smorest's Api, with its HTTP error handler giving SPEC's error shape."""

    def handle_http_exception(self, error: HTTPException):
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("errors")
        if errors is None and "messages" in data:
            errors = _flatten_locations(data["messages"])
        body = error_body(code, data.get("message") or _default_message(error), errors)
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return body, code, headers


def handle_tasky_error(error: TaskyError):
    code = error.status_code
    if code >= 500:
        # An outage (503) is said once where it starts (the store's driver, the runner's
        # supervisor); each request it refuses is a warning, not another error.
        logger.log(
            logging.ERROR if code == 500 else logging.WARNING,
            "%s on %s %s: %s",
            type(error).__name__,
            request.method,
            request.path,
            error.message,
            exc_info=error if code == 500 else None,
        )
    return error_body(code, error.message, error.errors), code


class OutageSource(Protocol):
    """What the outage handler needs of a store (``tasky.stores.base.Store``)."""

    outage_errors: tuple[type[Exception], ...]

    def is_outage(self, error: Exception) -> bool: ...


def _store_unavailable(store: OutageSource, error: Exception):
    if not store.is_outage(error):
        raise error  # a server fault: Flask logs it and answers 500
    return handle_tasky_error(StoreUnavailable(f"store unavailable: {error}"))


def register_error_handlers(app: Flask, store: OutageSource) -> None:
    """``TaskyError`` and the outage errors of ``store`` in SPEC's shape (``TaskyApi`` has
    the handler of Werkzeug's errors)."""
    app.register_error_handler(TaskyError, handle_tasky_error)
    for error in store.outage_errors:
        app.register_error_handler(error, functools.partial(_store_unavailable, store))
