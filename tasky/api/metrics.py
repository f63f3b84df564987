"""``GET /metrics``: Prometheus' text format, summed over every process of the service, and
the count of each request answered (by route, not path: one series per URL rule).

Behind the token like every data route. Not in the OpenAPI document: it is Prometheus'
format, not the API's JSON.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from tasky.api.context import current_request
from tasky.metrics import exposition, instruments

UNMATCHED = "unmatched"
"""The route of a request that matched none (404, 405)."""

blp = Blueprint("metrics", __name__)


@blp.get("/metrics")
def metrics() -> Response:
    registry = current_app.extensions.get(exposition.EXTENSION)
    if registry is None:  # an app built without the factory: no store gauges
        registry = current_app.extensions[exposition.EXTENSION] = exposition.scrape_registry()
    body, content_type = exposition.scrape(registry, request.headers.get("Accept"))
    return Response(body, content_type=content_type)


@blp.after_app_request
def count_request(response: Response) -> Response:
    req = current_request()
    rule = req.url_rule
    instruments.request(req.method, rule.rule if rule else UNMATCHED, response.status_code)
    return response
