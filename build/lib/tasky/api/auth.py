"""Bearer-token check: with ``TASKY_API_TOKEN`` set, every route needs
``Authorization: Bearer <token>`` except the health check, the OpenAPI document and docs
page, and the dashboard's page and static files (they hold no data)."""

from __future__ import annotations

import hmac

from flask import request
from flask_smorest import abort

from tasky.api.context import get_service

API_PREFIX = "/tasky/v1"
OPEN_PATHS = frozenset(
    {"/", f"{API_PREFIX}/health", f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/docs"}
)
OPEN_PREFIXES = ("/static/", f"{API_PREFIX}/docs/")


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def require_token() -> None:
    """App-wide ``before_request``: 401 unless the request carries the token."""
    token = get_service().settings.api_token
    if not token or is_open(request.path):
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    ):
        return
    abort(
        401,
        message="Missing or wrong token: send 'Authorization: Bearer <TASKY_API_TOKEN>'.",
        headers={"WWW-Authenticate": 'Bearer realm="tasky"'},
    )
