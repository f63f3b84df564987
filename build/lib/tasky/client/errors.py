"""The client's exceptions: one class per error class of the API, all under ``TaskyClientError``.

Each carries the answer's ``code`` (the HTTP status; None when no answer came), ``message`` and
``errors`` (the per-field details of a 422, else None). The docstring of a class is the message
used when the server sent none.
"""

from __future__ import annotations

from typing import Any


class TaskyClientError(Exception):
    """The Tasky API could not do what was asked."""

    code: int | None = None

    def __init__(
        self, message: str | None = None, *, code: int | None = None, errors: Any = None
    ) -> None:
        self.message = message or (self.__doc__ or "").strip()
        if code is not None:
            self.code = code
        self.errors = errors
        super().__init__(self.message)


class BadRequest(TaskyClientError):
    """The body is not valid JSON, or not a JSON object."""

    code = 400


class Unauthorized(TaskyClientError):
    """The token is missing or wrong."""

    code = 401


class Forbidden(TaskyClientError):
    """The worker is disabled on this server."""

    code = 403


class NotFound(TaskyClientError):
    """No such worker, task, schedule or route."""

    code = 404


class MethodNotAllowed(TaskyClientError):
    """The method is not allowed on this route."""

    code = 405


class Conflict(TaskyClientError):
    """The action does not fit the current state."""

    code = 409


class PayloadTooLarge(TaskyClientError):
    """The body is larger than the server accepts."""

    code = 413


class UnsupportedMediaType(TaskyClientError):
    """The body is neither JSON nor form-encoded."""

    code = 415


class ValidationFailed(TaskyClientError):
    """The request failed validation."""

    code = 422


class ServerError(TaskyClientError):
    """The server failed (5xx)."""

    code = 500


class ConnectionFailed(TaskyClientError):
    """The server could not be reached, or the connection dropped before its answer."""


class WaitTimeout(TaskyClientError, TimeoutError):
    """The task did not finish in time."""


BY_CODE: dict[int, type[TaskyClientError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
    )
    if cls.code is not None
}


def error_for(code: int, body: Any) -> TaskyClientError:
    """The exception for an error answer (SPEC's shape; any other body gives the default text)."""
    body = body if isinstance(body, dict) else {}
    cls = BY_CODE.get(code) or (ServerError if code >= 500 else TaskyClientError)
    message = body.get("message") if isinstance(body.get("message"), str) else None
    return cls(message, code=code, errors=body.get("errors"))
