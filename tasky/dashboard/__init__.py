"""The web dashboard at ``/``: server-rendered pages that hold no data, and the plain
JavaScript modules that fill them from the API (``/tasky/v1/...``) in the browser.

The pages and static files need no token (``tasky.api.auth`` leaves this blueprint open); the
scripts ask for the token once when the API answers 401, keep it in ``sessionStorage`` and
send it as ``Authorization: Bearer``. Every asset is served from here: the pages work with
no network, and a strict Content-Security-Policy forbids inline script and style.
"""

from __future__ import annotations

import time
from zoneinfo import available_timezones

from flask import Blueprint, Flask, Response, g, render_template

from tasky.models import TaskState

BLUEPRINT = "dashboard"
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""No 'unsafe-inline' anywhere: scripts are modules under /static/, styles one sheet, and the
scripts set element styles through the CSSOM (which CSP allows), never a style attribute."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NAV = (
    ("overview", "/", "Overview"),
    ("workers", "/workers", "Workers"),
    ("tasks", "/tasks", "Tasks"),
    ("schedules", "/schedules", "Schedules"),
    ("chains", "/chains", "Chains"),
    ("runners", "/runners", "Runners"),
    ("webhooks", "/webhooks", "Webhooks"),
)
TIMEZONES = sorted(available_timezones())
STATES = [state.value for state in TaskState]

bp = Blueprint(
    BLUEPRINT,
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def init_app(app: Flask) -> None:
    """Serve the dashboard's pages at ``/`` and its assets under ``/static/``; every answer
    of the app carries its server time (``Server-Timing``)."""
    app.register_blueprint(bp)
    app.before_request(_start_clock)
    app.after_request(_server_timing)


def _start_clock() -> None:
    g.tasky_started = time.perf_counter()


def _server_timing(response: Response) -> Response:
    started = g.get("tasky_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
    return response


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _page(name: str, title: str, **context) -> str:
    return render_template(
        f"{name}.html",
        page=name,
        title=title,
        nav=NAV,
        states=STATES,
        timezones=TIMEZONES,
        **context,
    )


def _simple_page(key: str, path: str, label: str) -> None:
    bp.add_url_rule(path, key, lambda: _page(key, label))


for _key, _path, _label in NAV:  # the pages of the main navigation take no argument
    _simple_page(_key, _path, _label)


@bp.get("/workers/<name>")
def submit(name: str):
    return _page("submit", f"Submit to {name}", worker=name)


@bp.get("/tasks/<task_id>")
def task(task_id: str):
    return _page("task", "Task", task_id=task_id)


@bp.get("/schedules/new")
def new_schedule():
    return _page("schedule", "New schedule", schedule_id="")


@bp.get("/schedules/<schedule_id>")
def schedule(schedule_id: str):
    return _page("schedule", "Schedule", schedule_id=schedule_id)


@bp.get("/chains/<chain_id>")
def chain(chain_id: str):
    return _page("chain", "Chain", chain_id=chain_id)
