"""Every route of SPEC and every case of its error list, over real HTTP through gunicorn.

``tests/api`` proves the details with Flask's test client; this module proves that the same
answers come out of a real gunicorn server: status codes, ``Location`` headers, key fields,
and SPEC's one error shape (JSON ``{code, status, message[, errors]}``, never HTML, never a
500 for bad input). Two servers serve the whole module: ``server`` (bash enabled, no token)
and ``locked`` (``TASKY_API_TOKEN``, ``TASKY_MAX_BODY=1000``, bash disabled).
"""

from __future__ import annotations

import os
import re
import uuid

import psutil
import pytest
import requests
from werkzeug.http import HTTP_STATUS_CODES

from tests.e2e.conftest import Server
from tests.spec_fields import (
    ITEM_FIELDS,
    RECORD_FIELDS,
    RESULT_FIELDS,
    SCHEDULE_FIELDS,
    SCHEDULE_SUBMITTED_FIELDS,
    STATUS_FIELDS,
    SUBMITTED_FIELDS,
    TASK_STATS_FIELDS,
    WORKER_FIELDS,
    WORKER_STATS_FIELDS,
)
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

V1 = "/tasky/v1"
TOKEN = "secret"
MAX_BODY = 1000
TERMINAL = {"completed", "failed", "canceled"}
UNKNOWN_ID = "0" * 32
Z_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# Every /tasky/v1 operation SPEC names (the OpenAPI document and docs page aside).
SPEC_OPERATIONS = {
    ("/tasky/v1/workers/", "get"),
    ("/tasky/v1/workers/{name}/info", "get"),
    ("/tasky/v1/workers/{name}/statistics", "get"),
    ("/tasky/v1/workers/{name}", "post"),
    ("/tasky/v1/workers/{name}/batch", "post"),
    ("/tasky/v1/tasks/", "get"),
    ("/tasky/v1/tasks/{task_id}", "get"),
    ("/tasky/v1/tasks/{task_id}", "patch"),
    ("/tasky/v1/tasks/{task_id}", "put"),
    ("/tasky/v1/tasks/{task_id}", "delete"),
    ("/tasky/v1/tasks/{task_id}/status", "get"),
    ("/tasky/v1/tasks/{task_id}/result", "get"),
    ("/tasky/v1/tasks/{task_id}/cancel", "post"),
    ("/tasky/v1/tasks/{task_id}/actions", "post"),
    ("/tasky/v1/tasks/{task_id}/statistics", "get"),
    ("/tasky/v1/schedules/", "get"),
    ("/tasky/v1/schedules/{schedule_id}", "get"),
    ("/tasky/v1/schedules/{schedule_id}", "patch"),
    ("/tasky/v1/schedules/{schedule_id}", "delete"),
    ("/tasky/v1/schedules/{schedule_id}/actions", "post"),
    ("/tasky/v1/health", "get"),
    ("/tasky/v1/runners", "get"),
}


# -- servers and HTTP -----------------------------------------------------------------------


def _serve(tmp_path_factory, name: str, env: dict[str, str]):
    server = Server(tmp_path_factory.mktemp(name), processes=1, env=env)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """bash enabled, no token (an inherited TASKY_API_TOKEN is blanked: empty means unset),
    intervals down to 0.1 s."""
    env = {"TASKY_ENABLE_BASH": "1", "TASKY_API_TOKEN": "", "TASKY_MIN_INTERVAL": "0.1"}
    yield from _serve(tmp_path_factory, "routes", env)


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    """A token, a small body limit, and bash disabled."""
    yield from _serve(
        tmp_path_factory,
        "locked",
        {"TASKY_API_TOKEN": TOKEN, "TASKY_MAX_BODY": str(MAX_BODY), "TASKY_ENABLE_BASH": "0"},
    )


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def call(server: Server, method: str, path: str, **kw) -> requests.Response:
    kw.setdefault("timeout", 5)
    kw.setdefault("allow_redirects", False)
    return requests.request(method, server.url + path, **kw)


def post(server: Server, path: str, body=None, **kw) -> requests.Response:
    return call(server, "POST", path, json=body if body is not None else {}, **kw)


def get(server: Server, path: str, **kw) -> requests.Response:
    return call(server, "GET", path, **kw)


def ok(resp: requests.Response, code: int = 200):
    assert resp.status_code == code, (
        f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:500]}"
    )
    if code == 204:
        assert resp.content == b""
        return None
    assert resp.headers["Content-Type"].split(";")[0] == "application/json"
    return resp.json()


def assert_error(resp: requests.Response, code: int) -> dict:
    """SPEC's one error shape, whatever the cause."""
    assert resp.status_code == code, (
        f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text[:500]}"
    )
    assert resp.headers["Content-Type"].split(";")[0].strip() == "application/json", resp.headers
    text = resp.text
    assert "Traceback" not in text and "<html" not in text.lower()
    body = resp.json()
    assert {"code", "status", "message"} <= set(body) <= {"code", "status", "message", "errors"}
    assert body["code"] == code
    assert body["status"] == HTTP_STATUS_CODES[code]
    assert isinstance(body["message"], str) and body["message"]
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"]
    return body


def z_time(value) -> None:
    assert isinstance(value, str) and Z_TIME.match(value), value


def submit(server: Server, worker: str = "echo", body: dict | None = None) -> dict:
    resp = post(server, f"{V1}/workers/{worker}", body)
    answer = ok(resp, 201)
    assert resp.headers["Location"] == f"{V1}/tasks/{answer['task_id']}"
    return answer


def task(server: Server, task_id: str) -> dict:
    return ok(get(server, f"{V1}/tasks/{task_id}"))


def wait_status(server: Server, task_id: str, *states: str, timeout: float = 10) -> dict:
    return wait_for(lambda: (t := task(server, task_id))["status"] in states and t, timeout=timeout)


def act(server: Server, kind: str, ident: str, action: str) -> requests.Response:
    return post(server, f"{V1}/{kind}/{ident}/actions", {"action": action})


def waiting(server: Server, worker: str = "echo") -> str:
    """A task that will not start on its own during the module."""
    return submit(server, worker, {"delay": 600})["task_id"]


def finished(server: Server) -> str:
    task_id = submit(server, "echo", {"config": {"message": "done"}})["task_id"]
    assert wait_status(server, task_id, *TERMINAL)["status"] == "completed"
    return task_id


def running_sleeper(server: Server) -> str:
    task_id = submit(server, "sleeper", {"config": {"seconds": 60}})["task_id"]
    wait_status(server, task_id, "running")
    return task_id


# -- workers --------------------------------------------------------------------------------


def test_list_workers(server):
    workers = ok(get(server, f"{V1}/workers/"))
    assert isinstance(workers, list)
    by_name = {w["name"]: w for w in workers}
    assert {"copyfile", "ifconfig", "sleeper", "echo", "bash", "http", "journal"} <= set(by_name)
    for worker in workers:
        assert set(worker) >= WORKER_FIELDS
    assert by_name["bash"]["enabled"] is True
    assert by_name["sleeper"]["parameters"]["seconds"]["type"]
    assert ok(get(server, f"{V1}/workers")) == workers


def test_worker_info_is_case_insensitive(server):
    info = ok(get(server, f"{V1}/workers/CopyFile/info"))
    assert set(info) >= WORKER_FIELDS and info["name"] == "copyfile"
    assert {"source", "destination", "overwrite"} <= set(info["parameters"])
    assert ok(get(server, f"{V1}/workers/copyfile/info")) == info


def test_worker_statistics(server):
    task_id = submit(server, "ifconfig")["task_id"]
    assert wait_status(server, task_id, *TERMINAL)["status"] == "completed"
    stats = ok(get(server, f"{V1}/workers/IfConfig/statistics"))
    assert set(stats) >= WORKER_STATS_FIELDS
    assert stats["name"] == "ifconfig"
    assert stats["submitted"] >= 1 and stats["completed"] >= 1
    assert 0 <= stats["failure_rate"] <= 1
    z_time(stats["last_finished_at"])
    output = ok(get(server, f"{V1}/tasks/{task_id}/result"))["output"]
    assert any(row["ip_network"] == "127.0.0.1/8" for row in output["interfaces"])


# -- submitting -----------------------------------------------------------------------------


def test_submit_then_read_every_task_view(server):
    answer = submit(server, "Echo", {"config": {"message": "hello"}, "timeout": 30})
    assert set(answer) == SUBMITTED_FIELDS and answer["worker"] == "echo"
    z_time(answer["execute_at"])
    z_time(answer["created_at"])
    task_id = answer["task_id"]
    record = wait_status(server, task_id, *TERMINAL)
    assert set(record) >= RECORD_FIELDS
    assert record["status"] == "completed" and record["config"] == {"message": "hello"}
    assert record["timeout"] == 30 and record["attempts"] == 1 and record["error"] is None

    status = ok(get(server, f"{V1}/tasks/{task_id}/status"))
    assert set(status) >= STATUS_FIELDS and status["status"] == "completed"
    assert status["duration"] >= 0
    z_time(status["started_at"])
    z_time(status["finished_at"])

    result = ok(get(server, f"{V1}/tasks/{task_id}/result"))
    assert set(result) >= RESULT_FIELDS
    assert result["output"] == {"message": "hello"} and result["error"] is None

    stats = ok(get(server, f"{V1}/tasks/{task_id}/statistics"))
    assert set(stats) >= TASK_STATS_FIELDS and stats["task_id"] == task_id
    assert stats["attempts"] == 1 and stats["ran_for"] >= 0 and stats["queued_for"] >= 0


def test_idempotency_key_returns_the_first_task(server):
    key = uuid.uuid4().hex
    first = post(server, f"{V1}/workers/echo", {"idempotency_key": key, "delay": 600})
    task_id = ok(first, 201)["task_id"]
    second = post(server, f"{V1}/workers/echo", {"idempotency_key": key, "delay": 600})
    assert ok(second, 200)["task_id"] == task_id
    assert task(server, task_id)["idempotency_key"] == key


def test_batch(server):
    tasks = [{"config": {"message": str(i)}} for i in range(3)]
    ids = ok(post(server, f"{V1}/workers/echo/batch", {"tasks": tasks}), 201)["task_ids"]
    assert len(set(ids)) == 3
    for i, task_id in enumerate(ids):
        record = wait_status(server, task_id, *TERMINAL)
        assert record["status"] == "completed" and record["config"] == {"message": str(i)}


@pytest.mark.parametrize(
    "data, headers",
    [
        ("{}", {"Content-Type": "application/x-www-form-urlencoded"}),  # curl -d '{}'
        ('{"config": {"message": "typed"}}', {"Content-Type": "application/x-www-form-urlencoded"}),
        (None, {}),  # no body at all
        (b"", {"Content-Type": "application/json"}),
        ("{}", {"Content-Type": "application/json; charset=utf-8"}),
    ],
    ids=["curl-d-empty-object", "curl-d-config", "empty-body", "empty-json", "json-charset"],
)
def test_accepted_bodies(server, data, headers):
    resp = call(server, "POST", f"{V1}/workers/echo", data=data, headers=headers)
    answer = ok(resp, 201)
    assert resp.headers["Location"] == f"{V1}/tasks/{answer['task_id']}"
    record = wait_status(server, answer["task_id"], *TERMINAL)
    assert record["status"] == "completed"
    if data and "typed" in data:
        assert record["config"] == {"message": "typed"}


# -- listing --------------------------------------------------------------------------------


def test_list_tasks_with_filters_and_cursor_paging(server):
    ids = ok(post(server, f"{V1}/workers/journal/batch", {"tasks": [{"delay": 600}] * 5}), 201)[
        "task_ids"
    ]
    first = ok(get(server, f"{V1}/tasks/"))
    assert set(first) == {"tasks", "next_cursor"}
    for item in first["tasks"]:
        assert set(item) >= ITEM_FIELDS
    assert ok(get(server, f"{V1}/tasks"))["tasks"] == first["tasks"]

    seen, cursor, pages = [], None, 0
    while True:
        params = {"worker": "journal", "status": "scheduled", "limit": 2}
        page = ok(
            get(server, f"{V1}/tasks/", params=params | ({"cursor": cursor} if cursor else {}))
        )
        pages += 1
        assert len(page["tasks"]) <= 2
        assert {(t["worker"], t["status"]) for t in page["tasks"]} <= {("journal", "scheduled")}
        seen += [t["task_id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert sorted(seen) == sorted(ids)
    created = [
        t["created_at"] for t in ok(get(server, f"{V1}/tasks/", params={"limit": 1000}))["tasks"]
    ]
    assert created == sorted(created, reverse=True)  # newest first
    assert (
        ok(get(server, f"{V1}/tasks/", params={"worker": "journal", "status": "queued"}))["tasks"]
        == []
    )
    assert ok(get(server, f"{V1}/tasks/", params={"schedule_id": UNKNOWN_ID}))["tasks"] == []


# -- cancel, edit, actions, delete ----------------------------------------------------------


def test_cancel_a_waiting_task_is_200(server):
    task_id = waiting(server)
    record = ok(post(server, f"{V1}/tasks/{task_id}/cancel"))
    assert set(record) >= RECORD_FIELDS and record["status"] == "canceled"
    z_time(record["finished_at"])
    assert task(server, task_id)["status"] == "canceled"


def test_cancel_a_running_sleeper_is_202_then_canceled(server):
    task_id = running_sleeper(server)
    resp = post(server, f"{V1}/tasks/{task_id}/cancel")
    assert ok(resp, 202)["status"] == "canceling"
    wait_status(server, task_id, "canceled", timeout=3)
    result = ok(get(server, f"{V1}/tasks/{task_id}/result"))
    assert result["status"] == "canceled" and result["output"] is None


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_edit_a_waiting_task(server, method):
    task_id = waiting(server)
    resp = call(
        server,
        method,
        f"{V1}/tasks/{task_id}",
        json={
            "config": {"message": "edited"},
            "timeout": 3,
            "max_retries": 2,
            "execute_at": "2999-05-05T05:05:05Z",
        },
    )
    record = ok(resp)
    assert set(record) >= RECORD_FIELDS
    assert record["config"] == {"message": "edited"}
    assert record["timeout"] == 3 and record["max_retries"] == 2
    assert record["execute_at"].startswith("2999-05-05T05:05:05")
    assert record["status"] == "scheduled"
    assert task(server, task_id)["config"] == {"message": "edited"}
    ok(post(server, f"{V1}/tasks/{task_id}/cancel"))


def test_actions_pause_resume_run(server):
    task_id = waiting(server)
    record = ok(act(server, "tasks", task_id, "pause"))
    assert set(record) >= RECORD_FIELDS and record["status"] == "paused"
    assert ok(act(server, "tasks", task_id, "resume"))["status"] == "scheduled"
    assert ok(act(server, "tasks", task_id, "run"))["status"] in {"queued", "running", "completed"}
    assert wait_status(server, task_id, *TERMINAL)["status"] == "completed"

    paused = waiting(server)
    ok(act(server, "tasks", paused, "pause"))
    assert ok(act(server, "tasks", paused, "run"))["status"] != "paused"
    assert wait_status(server, paused, *TERMINAL)["status"] == "completed"


def test_action_run_on_a_finished_task_creates_a_new_one(server):
    task_id = finished(server)
    resp = act(server, "tasks", task_id, "run")
    copy = ok(resp, 201)
    assert copy["task_id"] != task_id
    assert resp.headers["Location"] == f"{V1}/tasks/{copy['task_id']}"
    assert copy["worker"] == "echo" and copy["config"] == {"message": "done"}
    assert wait_status(server, copy["task_id"], *TERMINAL)["status"] == "completed"
    assert task(server, task_id)["status"] == "completed"


def test_action_cancel_answers_as_cancel(server):
    resp = act(server, "tasks", waiting(server), "cancel")
    assert ok(resp)["status"] == "canceled"
    sleeper = running_sleeper(server)
    assert ok(act(server, "tasks", sleeper, "cancel"), 202)["status"] == "canceling"
    wait_status(server, sleeper, "canceled", timeout=3)


def test_delete_a_finished_task_is_204(server):
    task_id = finished(server)
    ok(call(server, "DELETE", f"{V1}/tasks/{task_id}"), 204)
    assert_error(get(server, f"{V1}/tasks/{task_id}"), 404)


# -- schedules ------------------------------------------------------------------------------


def create_schedule(server: Server, body: dict) -> tuple[dict, str]:
    resp = post(server, f"{V1}/workers/echo", body)
    answer = ok(resp, 201)
    assert set(answer) == SCHEDULE_SUBMITTED_FIELDS
    assert resp.headers["Location"] == f"{V1}/schedules/{answer['schedule_id']}"
    return answer, answer["schedule_id"]


def test_interval_schedule_routes(server):
    answer, schedule_id = create_schedule(server, {"interval": 3600, "config": {"message": "tick"}})
    assert answer["worker"] == "echo"
    z_time(answer["next_run_at"])
    z_time(answer["created_at"])

    listed = ok(get(server, f"{V1}/schedules/"))
    assert set(listed) == {"schedules", "next_cursor"}
    assert schedule_id in {s["schedule_id"] for s in listed["schedules"]}

    schedule = ok(get(server, f"{V1}/schedules/{schedule_id}"))
    assert set(schedule) >= SCHEDULE_FIELDS
    assert schedule["interval"] == 3600 and schedule["cron"] is None
    assert schedule["status"] == "active" and schedule["runs"] == 0
    assert schedule["next_run_at"] == answer["next_run_at"]

    patched = ok(call(server, "PATCH", f"{V1}/schedules/{schedule_id}", json={"interval": 7200}))
    assert patched["interval"] == 7200 and patched["next_run_at"] > answer["next_run_at"]

    assert ok(act(server, "schedules", schedule_id, "pause"))["status"] == "paused"
    assert ok(act(server, "schedules", schedule_id, "resume"))["status"] == "active"
    resp = act(server, "schedules", schedule_id, "run")
    run = ok(resp, 201)
    assert resp.headers["Location"] == f"{V1}/tasks/{run['task_id']}"
    record = wait_status(server, run["task_id"], *TERMINAL)
    assert record["status"] == "completed" and record["schedule_id"] == schedule_id
    runs = ok(get(server, f"{V1}/tasks/", params={"schedule_id": schedule_id}))["tasks"]
    assert [t["task_id"] for t in runs] == [run["task_id"]]
    schedule = ok(get(server, f"{V1}/schedules/{schedule_id}"))
    assert schedule["runs"] == 1 and schedule["last_task_id"] == run["task_id"]

    ok(call(server, "DELETE", f"{V1}/schedules/{schedule_id}"), 204)
    assert_error(get(server, f"{V1}/schedules/{schedule_id}"), 404)
    assert task(server, run["task_id"])["status"] == "completed"  # finished runs are kept


def test_cron_schedule(server):
    answer, schedule_id = create_schedule(
        server, {"cron": "*/5 * * * *", "timezone": "Europe/Paris"}
    )
    z_time(answer["next_run_at"])
    schedule = ok(get(server, f"{V1}/schedules/{schedule_id}"))
    assert schedule["cron"] == "*/5 * * * *" and schedule["interval"] is None
    assert schedule["timezone"] == "Europe/Paris"
    ok(call(server, "DELETE", f"{V1}/schedules/{schedule_id}"), 204)


def test_interval_schedule_fires_by_itself(server):
    _, schedule_id = create_schedule(server, {"interval": 0.3})
    wait_for(lambda: ok(get(server, f"{V1}/schedules/{schedule_id}"))["runs"] >= 2, timeout=10)
    ok(act(server, "schedules", schedule_id, "pause"))
    runs = ok(get(server, f"{V1}/tasks/", params={"schedule_id": schedule_id}))["tasks"]
    assert len(runs) >= 2
    for run in runs:
        assert wait_status(server, run["task_id"], *TERMINAL)["status"] == "completed"
    ok(call(server, "DELETE", f"{V1}/schedules/{schedule_id}"), 204)


# -- operations and documents ---------------------------------------------------------------


def test_health(server):
    health = ok(get(server, f"{V1}/health"))
    assert health["status"] == "ok" and health["store"] == "sqlite"
    assert health["version"] and "bash" in health["workers"]
    assert health["runner"] == "running"


def test_openapi_lists_every_route(server):
    spec = ok(get(server, f"{V1}/openapi.json"))
    documented = {
        (path, method)
        for path, ops in spec["paths"].items()
        for method in ops
        if method != "parameters"
    }
    missing = SPEC_OPERATIONS - documented
    assert not missing, missing
    assert all(path.startswith(V1) for path, _ in documented)
    assert {"Task", "Submit", "Error", "Schedule"} <= set(spec["components"]["schemas"])


def test_swagger_ui(server):
    resp = get(server, f"{V1}/docs")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "swagger-ui" in resp.text and f"{V1}/openapi.json" in resp.text


# -- the error list -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, content_type, says",
    [
        (b"{", "application/json", "JSON"),
        (b'{"delay": 1,}', "application/json", "JSON"),
        (b"{", "application/x-www-form-urlencoded", "JSON"),
        (b"{", None, "JSON"),
        (b"[]", "application/json", "object"),
        (b"42", "application/json", "object"),
        (b'"text"', "application/x-www-form-urlencoded", "object"),
    ],
)
def test_400_bad_json(server, data, content_type, says):
    headers = {"Content-Type": content_type} if content_type else {}
    for path in (f"{V1}/workers/echo", f"{V1}/workers/echo/batch"):
        body = assert_error(call(server, "POST", path, data=data, headers=headers), 400)
        assert says in body["message"]
    task_id = waiting(server)
    assert_error(call(server, "PATCH", f"{V1}/tasks/{task_id}", data=data, headers=headers), 400)
    assert_error(
        call(server, "POST", f"{V1}/tasks/{task_id}/actions", data=data, headers=headers), 400
    )


LOCKED_ROUTES = [
    ("GET", f"{V1}/workers/"),
    ("GET", f"{V1}/workers/echo/info"),
    ("GET", f"{V1}/workers/echo/statistics"),
    ("POST", f"{V1}/workers/echo"),
    ("POST", f"{V1}/workers/echo/batch"),
    ("GET", f"{V1}/tasks/"),
    ("GET", f"{V1}/tasks/{UNKNOWN_ID}"),
    ("DELETE", f"{V1}/tasks/{UNKNOWN_ID}"),
    ("POST", f"{V1}/tasks/{UNKNOWN_ID}/cancel"),
    ("GET", f"{V1}/schedules/"),
    ("GET", f"{V1}/nope"),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
def test_401_missing_or_wrong_token(locked, headers):
    for method, path in LOCKED_ROUTES:
        resp = call(locked, method, path, json={}, headers=headers)
        assert_error(resp, 401)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_exempt_routes_and_the_right_token(locked):
    assert ok(get(locked, f"{V1}/health"))["status"] == "ok"
    assert "paths" in ok(get(locked, f"{V1}/openapi.json"))
    assert get(locked, f"{V1}/docs").status_code == 200
    assert isinstance(ok(get(locked, f"{V1}/workers/", headers=AUTH)), list)
    resp = post(locked, f"{V1}/workers/echo", {}, headers=AUTH)
    task_id = ok(resp, 201)["task_id"]
    assert ok(get(locked, resp.headers["Location"], headers=AUTH))["task_id"] == task_id
    assert_error(get(locked, f"{V1}/tasks/{UNKNOWN_ID}", headers=AUTH), 404)


def test_403_bash_disabled(locked):
    workers = {w["name"]: w for w in ok(get(locked, f"{V1}/workers/", headers=AUTH))}
    assert workers["bash"]["enabled"] is False
    assert_error(post(locked, f"{V1}/workers/bash", {}, headers=AUTH), 403)
    body = {"config": {"command": "echo hi"}}
    assert_error(post(locked, f"{V1}/workers/bash", body, headers=AUTH), 403)
    assert_error(post(locked, f"{V1}/workers/bash/batch", {"tasks": [body]}, headers=AUTH), 403)
    assert_error(post(locked, f"{V1}/workers/bash", {"interval": 60, **body}, headers=AUTH), 403)
    assert ok(get(locked, f"{V1}/tasks/", params={"worker": "bash"}, headers=AUTH))["tasks"] == []


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", f"{V1}/workers/nobody", {}),
        ("POST", f"{V1}/workers/nobody/batch", {"tasks": [{}]}),
        ("GET", f"{V1}/workers/nobody/info", None),
        ("GET", f"{V1}/workers/nobody/statistics", None),
        ("GET", f"{V1}/tasks/{UNKNOWN_ID}", None),
        ("GET", f"{V1}/tasks/{UNKNOWN_ID}/status", None),
        ("GET", f"{V1}/tasks/{UNKNOWN_ID}/result", None),
        ("GET", f"{V1}/tasks/{UNKNOWN_ID}/statistics", None),
        ("POST", f"{V1}/tasks/{UNKNOWN_ID}/cancel", None),
        ("POST", f"{V1}/tasks/{UNKNOWN_ID}/actions", {"action": "pause"}),
        ("PATCH", f"{V1}/tasks/{UNKNOWN_ID}", {"timeout": 1}),
        ("PUT", f"{V1}/tasks/{UNKNOWN_ID}", {}),
        ("DELETE", f"{V1}/tasks/{UNKNOWN_ID}", None),
        ("GET", f"{V1}/schedules/{UNKNOWN_ID}", None),
        ("PATCH", f"{V1}/schedules/{UNKNOWN_ID}", {"interval": 60}),
        ("DELETE", f"{V1}/schedules/{UNKNOWN_ID}", None),
        ("POST", f"{V1}/schedules/{UNKNOWN_ID}/actions", {"action": "run"}),
        ("GET", f"{V1}/nope", None),
        ("GET", "/nope", None),
        ("GET", f"{V1}/workers/echo/nope", None),
        ("GET", f"{V1}/tasks/x/y/z", None),
    ],
)
def test_404_unknown(server, method, path, body):
    kw = {"json": body} if body is not None else {}
    assert_error(call(server, method, path, **kw), 404)


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", f"{V1}/workers/"),
        ("GET", f"{V1}/workers/echo"),
        ("POST", f"{V1}/workers/echo/info"),
        ("PUT", f"{V1}/workers/echo/batch"),
        ("POST", f"{V1}/tasks/"),
        ("GET", f"{V1}/tasks/{UNKNOWN_ID}/cancel"),
        ("GET", f"{V1}/tasks/{UNKNOWN_ID}/actions"),
        ("POST", f"{V1}/schedules/"),
        ("GET", f"{V1}/schedules/{UNKNOWN_ID}/actions"),
        ("POST", f"{V1}/health"),
    ],
)
def test_405_method_not_allowed(server, method, path):
    resp = call(server, method, path)
    assert_error(resp, 405)
    assert resp.headers["Allow"]


def test_409_state_misfits(server):
    done = finished(server)
    body = assert_error(post(server, f"{V1}/tasks/{done}/cancel"), 409)
    assert "completed" in body["message"]
    assert_error(act(server, "tasks", done, "cancel"), 409)
    assert_error(act(server, "tasks", done, "pause"), 409)
    assert_error(call(server, "PATCH", f"{V1}/tasks/{done}", json={"max_retries": 1}), 409)

    scheduled = waiting(server)
    assert "scheduled" in assert_error(act(server, "tasks", scheduled, "resume"), 409)["message"]
    assert_error(call(server, "DELETE", f"{V1}/tasks/{scheduled}"), 409)

    sleeper = running_sleeper(server)
    assert_error(call(server, "PATCH", f"{V1}/tasks/{sleeper}", json={"timeout": 5}), 409)
    assert_error(call(server, "PUT", f"{V1}/tasks/{sleeper}", json={"max_retries": 1}), 409)
    assert_error(call(server, "DELETE", f"{V1}/tasks/{sleeper}"), 409)
    assert_error(act(server, "tasks", sleeper, "pause"), 409)
    assert_error(act(server, "tasks", sleeper, "resume"), 409)
    assert task(server, sleeper)["status"] == "running"
    ok(post(server, f"{V1}/tasks/{sleeper}/cancel"), 202)
    wait_status(server, sleeper, "canceled", timeout=3)
    assert_error(post(server, f"{V1}/tasks/{sleeper}/cancel"), 409)

    _, schedule_id = create_schedule(server, {"interval": 3600})
    ok(act(server, "schedules", schedule_id, "pause"))
    assert_error(act(server, "schedules", schedule_id, "pause"), 409)
    ok(act(server, "schedules", schedule_id, "resume"))
    assert_error(act(server, "schedules", schedule_id, "resume"), 409)
    ok(call(server, "DELETE", f"{V1}/schedules/{schedule_id}"), 204)


def test_413_body_over_max_body(locked):
    def body_of(size: int) -> bytes:
        prefix, suffix = b'{"config": {"message": "', b'"}}'
        return prefix + b"x" * (size - len(prefix) - len(suffix)) + suffix

    headers = AUTH | {"Content-Type": "application/json"}
    ok(call(locked, "POST", f"{V1}/workers/echo", data=body_of(MAX_BODY), headers=headers), 201)
    body = assert_error(
        call(locked, "POST", f"{V1}/workers/echo", data=body_of(MAX_BODY + 1), headers=headers), 413
    )
    assert str(MAX_BODY) in body["message"]
    big = body_of(20 * MAX_BODY)
    assert_error(call(locked, "POST", f"{V1}/workers/echo/batch", data=big, headers=headers), 413)
    task_id = ok(post(locked, f"{V1}/workers/echo", {"delay": 600}, headers=AUTH), 201)["task_id"]
    assert_error(call(locked, "PATCH", f"{V1}/tasks/{task_id}", data=big, headers=headers), 413)
    form = AUTH | {"Content-Type": "application/x-www-form-urlencoded"}
    assert_error(call(locked, "POST", f"{V1}/workers/echo", data=big, headers=form), 413)


def test_414_431_from_gunicorn_in_the_error_shape(server):
    """gunicorn refuses these before the app runs; they still come in SPEC's JSON shape."""
    body = assert_error(get(server, f"{V1}/tasks/{'x' * 5000}"), 414)
    assert "too large" in body["message"]
    headers = {f"X-Header-{n}": "x" for n in range(101)}
    assert_error(get(server, f"{V1}/health", headers=headers), 431)


def test_unparsable_request_from_gunicorn_in_the_error_shape(server):
    import json
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        answer = sock.recv(65536).decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400"), answer[:300]
    assert "Content-Type: application/json" in head
    error = json.loads(body)
    assert error["code"] == 400 and error["status"] == "Bad Request" and error["message"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"]
)
def test_415_other_content_type(server, content_type):
    headers = {"Content-Type": content_type}
    assert_error(call(server, "POST", f"{V1}/workers/echo", data="{}", headers=headers), 415)
    task_id = waiting(server)
    assert_error(call(server, "PATCH", f"{V1}/tasks/{task_id}", data="{}", headers=headers), 415)
    assert_error(
        call(
            server,
            "POST",
            f"{V1}/tasks/{task_id}/actions",
            data='{"action": "pause"}',
            headers=headers,
        ),
        415,
    )
    assert task(server, task_id)["status"] == "scheduled"


@pytest.mark.parametrize(
    "worker, body, fields",
    [
        ("echo", {"bogus": 1}, {"bogus"}),
        ("echo", {"delay": "soon"}, {"delay"}),
        ("echo", {"max_retries": "2"}, {"max_retries"}),
        ("echo", {"config": {"mesage": "typo"}}, {"config"}),
        ("echo", {"cron": "61 * * * *"}, {"cron"}),
        ("echo", {"cron": "* * *"}, {"cron"}),
        ("echo", {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, {"timezone"}),
        ("echo", {"cron": "* * * * *", "interval": 60}, {"cron", "interval"}),
        ("echo", {"execute_at": "2999-01-01T00:00:00Z", "delay": 5}, {"execute_at", "delay"}),
        ("echo", {"interval": 0}, {"interval"}),
        ("echo", {"interval": -1}, {"interval"}),
        (
            "echo",
            {"interval": 60, "start_at": "2030-03-05T00:00:00Z", "end_at": "2030-03-04T00:00:00Z"},
            {"end_at"},
        ),
        ("copyfile", {"config": {"source": "../outside", "destination": "b"}}, {"config"}),
        ("copyfile", {"config": {"source": "/etc/passwd", "destination": "b"}}, {"config"}),
        ("copyfile", {"config": {"source": "a", "destination": "x/../../outside"}}, {"config"}),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "wrong-type-int",
        "unknown-config-field",
        "bad-cron",
        "cron-fields",
        "unknown-timezone",
        "cron-and-interval",
        "execute_at-and-delay",
        "interval-0",
        "interval-negative",
        "end_at-before-start_at",
        "copyfile-dotdot",
        "copyfile-absolute",
        "copyfile-leaves-root",
    ],
)
def test_422_invalid_submit(server, worker, body, fields):
    errors = assert_error(post(server, f"{V1}/workers/{worker}", body), 422)["errors"]
    assert set(errors) >= fields, errors


def test_422_names_the_bad_config_paths(server):
    errors = assert_error(
        post(
            server,
            f"{V1}/workers/copyfile",
            {"config": {"source": "../x", "destination": "/etc/y"}},
        ),
        422,
    )["errors"]
    assert set(errors["config"]) == {"source", "destination"}
    before = ok(get(server, f"{V1}/tasks/", params={"worker": "copyfile"}))["tasks"]
    assert before == []  # nothing was stored by the rejected submits


@pytest.mark.parametrize("path", [f"{V1}/tasks/", f"{V1}/schedules/"])
@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_422_bad_list_query(server, path, params, field):
    errors = assert_error(get(server, path, params=params), 422)["errors"]
    assert field in errors
    for limit in (1, 1000):
        ok(get(server, path, params={"limit": limit}))


def test_422_invalid_task_edit_and_action(server):
    task_id = waiting(server)
    errors = assert_error(
        call(
            server,
            "PATCH",
            f"{V1}/tasks/{task_id}",
            json={"execute_at": "2999-01-01T00:00:00Z", "delay": 1},
        ),
        422,
    )["errors"]
    assert set(errors) == {"execute_at", "delay"}
    assert (
        "status"
        in assert_error(
            call(server, "PUT", f"{V1}/tasks/{task_id}", json={"status": "completed"}), 422
        )["errors"]
    )
    assert "action" in assert_error(act(server, "tasks", task_id, "explode"), 422)["errors"]
    _, schedule_id = create_schedule(server, {"interval": 3600})
    assert (
        "cron"
        in assert_error(
            call(server, "PATCH", f"{V1}/schedules/{schedule_id}", json={"cron": "nope"}), 422
        )["errors"]
    )
    assert "action" in assert_error(act(server, "schedules", schedule_id, "cancel"), 422)["errors"]
    ok(call(server, "DELETE", f"{V1}/schedules/{schedule_id}"), 204)


def test_422_batch_names_the_bad_item(server):
    before = len(ok(get(server, f"{V1}/tasks/", params={"limit": 1000}))["tasks"])
    tasks = [{}, {}, {"delay": -1}, {}]
    errors = assert_error(post(server, f"{V1}/workers/echo/batch", {"tasks": tasks}), 422)["errors"]
    assert set(errors["tasks"]) == {"2"} and "delay" in errors["tasks"]["2"]
    tasks = [{"config": {"message": "a"}}, {"config": {"mesage": "b"}}]
    errors = assert_error(post(server, f"{V1}/workers/echo/batch", {"tasks": tasks}), 422)["errors"]
    assert set(errors["tasks"]) == {"1"} and "config" in errors["tasks"]["1"]
    after = len(ok(get(server, f"{V1}/tasks/", params={"limit": 1000}))["tasks"])
    assert after == before  # all or nothing


# -- a running bash command, canceled over HTTP ---------------------------------------------


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies, unreaped orphans, do not)."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return False


def test_cancel_a_running_bash_command(server):
    seconds = f"30.{uuid.uuid4().int % 10**6:06d}"  # unique, to find our own sleep
    command = f"sleep {seconds}; echo finished"
    task_id = submit(server, "bash", {"config": {"command": command}})["task_id"]
    wait_status(server, task_id, "running")

    def our_bash():
        for proc in _descendants(server.proc.pid):
            try:
                if proc.cmdline() == ["bash", "-c", command] and proc.children():
                    return proc
            except psutil.NoSuchProcess:
                continue
        return None

    bash = wait_for(our_bash, timeout=5)
    pgid = os.getpgid(bash.pid)
    assert pgid == bash.pid  # bash leads a process group of its own
    # bash forks, then the child execs sleep: poll until it has
    wait_for(
        lambda: any(p.cmdline() == ["sleep", seconds] for p in _descendants(bash.pid)), timeout=5
    )

    resp = post(server, f"{V1}/tasks/{task_id}/cancel")
    assert ok(resp, 202)["status"] == "canceling"
    record = wait_status(server, task_id, "canceled", timeout=4)
    assert record["finished_at"]
    wait_for(lambda: not _group_alive(pgid), timeout=3)
    result = ok(get(server, f"{V1}/tasks/{task_id}/result"))
    assert result["status"] == "canceled"
    assert "finished" not in str(result["output"])
    assert ok(get(server, f"{V1}/tasks/{task_id}/status"))["status"] == "canceled"


# -- last: nothing above was a server fault -------------------------------------------------


def test_no_server_fault_was_logged(server, locked):
    for srv in (server, locked):
        log = srv.log.read_text()
        assert "Traceback" not in log, log[-3000:]
        assert " 500 " not in log


def test_a_body_cut_short_of_its_content_length_is_400(server):
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /tasky/v1/workers/echo HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n"
            b'{"delay": 600}'
        )
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400"), answer[:200]
    assert "Content-Length" in answer
