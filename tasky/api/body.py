"""Request bodies, parsed the same way on every route (SPEC, Conventions).

A body is JSON when its Content-Type is JSON, missing, or form-encoded (what ``curl -d``
sends); any other type is a 415. An empty body is ``{}``; a body that is not valid JSON or
not a JSON object is a 400; one larger than ``TASKY_MAX_BODY`` is a 413 (Werkzeug raises it
when the body is read, from ``MAX_CONTENT_LENGTH``).
"""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
from flask import Request, current_app
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge

from tasky.api.context import current_request

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM = "application/x-www-form-urlencoded"


def is_json_type(mimetype: str) -> bool:
    """``application/json``, ``application/*+json``, no type at all, or form-encoded."""
    return (
        not mimetype
        or mimetype in (FORM, "application/json")
        or (mimetype.startswith("application/") and mimetype.endswith("+json"))
    )


def check_body() -> None:
    """``before_request`` of every API blueprint: refuse a body of another type (415) or
    too large (413) before any view runs. The raw body is read and cached here, so
    Werkzeug's form parser never consumes a form-encoded JSON body."""
    req = current_request()
    length = req.content_length
    if req.method not in BODY_METHODS and not length:
        return
    mimetype = req.mimetype
    if not is_json_type(mimetype):
        abort(
            415,
            message=f"Content-Type {mimetype!r} is not supported; send JSON (application/json).",
        )
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if length is None and limit is not None:
        # A streamed (chunked) body has no length to check up front, and Werkzeug stops
        # reading at the limit without an error: read one byte more to tell a body that
        # fits from one that does not.
        req.max_content_length = limit + 1
        if len(req.get_data(cache=True)) > limit:
            raise RequestEntityTooLarge()
    elif length is not None and len(req.get_data(cache=True)) < length:  # 413 when over
        abort(400, message="The body ended before its Content-Length.")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Any:
    """The body as a JSON object; ``missing`` when empty. Strict JSON: no NaN/Infinity."""
    if not raw.strip():
        return core.missing
    try:
        value = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        abort(400, message=f"The body is not valid JSON: {exc}.")
    if not isinstance(value, dict):
        abort(400, message=f"The body must be a JSON object, not {_json_kind(value)}.")
    return value


def _json_kind(value: Any) -> str:
    return {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), "that")


class TaskyParser(FlaskParser):
    """webargs' parser with SPEC's body rules for the ``json`` location."""

    def _raw_load_json(self, req: Request) -> Any:
        """The body as ``check_body`` let it through (its type is JSON's)."""
        return parse_body(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    """Every API blueprint: SPEC's body parsing, checked once for all its routes."""

    ARGUMENTS_PARSER = TaskyParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_request(check_body)
