"""``GET /tasky/v1/export`` and ``POST /tasky/v1/import`` on an app built by the factory (an
API node: no runner runs here, the tests make the states through the store)."""

from __future__ import annotations

import json
import re
import time

import pytest

from tasky import create_app
from tasky.config import Settings
from tasky.models import Outcome, TaskState
from tests.api.api_helpers import assert_error
from tests.backup.helpers import api_view, export_lines

pytestmark = pytest.mark.timeout(60)

ECHO = "/tasky/v1/workers/echo"
FILENAME = re.compile(r'^attachment; filename="tasky-export-\d{8}T\d{6}Z\.ndjson"$')


@pytest.fixture
def make_app(tmp_path):
    made = []

    def make(**overrides):
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/tasks-{len(made)}.db",
            files_root=str(tmp_path / "files"),
            runner="off",
            **overrides,
        )
        app = create_app(settings)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["tasky"].store.close()


def client_of(app):
    client = app.test_client()
    client.store = app.extensions["tasky"].store
    return client


@pytest.fixture
def source(make_app):
    return client_of(make_app())


@pytest.fixture
def target(make_app):
    return client_of(make_app())


def submit(client, body=None, worker="echo") -> str:
    resp = client.post(f"/tasky/v1/workers/{worker}", json=body or {})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json().get("task_id") or resp.get_json()["schedule_id"]


def run(client, task_id, status, output=None, error=None):
    """Play a runner: claim the task and store the end of its attempt."""
    store = client.store
    task = store.get_task(task_id)
    now = time.time()
    store.update_waiting(task_id, {"execute_at": now - 3600}, now)  # due first of all
    (claimed,) = store.claim(task.worker, "elsewhere:1:x", 1, now + 1, now, now + 30)
    assert claimed.id == task_id
    finished = store.finish(
        [Outcome(task_id, "elsewhere:1:x", 1, status, now + 0.25, output, False, error, now + 60)]
    )
    assert finished


def every_state(client) -> tuple[list[str], list[str]]:
    """Tasks in every state a stopped service holds, and schedules of both kinds."""
    tasks = {
        "scheduled": submit(client, {"delay": 600, "config": {"message": "later"}}),
        "queued": submit(client, {"idempotency_key": "once", "max_retries": 2, "timeout": 9}),
        "paused": submit(client, {"delay": 600}),
        "canceled": submit(client, {"delay": 600}),
        "completed": submit(client, {"config": {"message": "done"}}),
        "failed": submit(client),
        "retrying": submit(client, {"max_retries": 3, "retry_backoff": 2.5}),
    }
    client.post(f"/tasky/v1/tasks/{tasks['paused']}/actions", json={"action": "pause"})
    client.post(f"/tasky/v1/tasks/{tasks['canceled']}/cancel")
    run(client, tasks["completed"], TaskState.COMPLETED, '{"message": "done", "n": 0.1}')
    run(client, tasks["failed"], TaskState.FAILED, None, "RuntimeError: boom")
    run(client, tasks["retrying"], TaskState.FAILED, None, "flaky")
    cron = submit(client, {"cron": "*/5 * * * *", "timezone": "Europe/Paris"})
    interval = submit(client, {"interval": 3600, "overlap": "allow", "misfire": "skip"})
    ran = client.post(f"/tasky/v1/schedules/{interval}/actions", json={"action": "run"})
    tasks["a run"] = ran.get_json()["task_id"]
    client.post(f"/tasky/v1/schedules/{cron}/actions", json={"action": "pause"})
    statuses = {name: client.store.get_task(i).status.value for name, i in tasks.items()}
    assert statuses["retrying"] == "scheduled" and statuses["failed"] == "failed"
    return list(tasks.values()), [cron, interval]


def export(client) -> bytes:
    resp = client.get("/tasky/v1/export")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/x-ndjson"
    assert FILENAME.match(resp.headers["Content-Disposition"]), resp.headers
    return resp.get_data()


def import_(client, body: bytes, **kw):
    kw.setdefault("content_type", "application/x-ndjson")
    return client.post("/tasky/v1/import", data=body, **kw)


def view(client, task_ids, schedule_ids):
    return api_view(lambda path: client.get(path).get_json(), task_ids, schedule_ids)


def test_an_export_is_a_header_then_every_schedule_then_every_task(source):
    task_ids, schedule_ids = every_state(source)
    header, records = export_lines(export(source))
    assert header["kind"] == "tasky-export" and header["format"] == 1
    assert header["store"] == "sqlite"
    assert header["counts"] == {"chains": 0, "schedules": 2, "tasks": len(task_ids)}
    assert [r["type"] for r in records] == ["schedule"] * 2 + ["task"] * len(task_ids)
    assert {r["id"] for r in records} == set(task_ids) | set(schedule_ids)
    keyed = next(r for r in records if r["id"] == task_ids[1])
    assert keyed["idempotency_key"] == "once" and keyed["max_retries"] == 2


def test_an_import_restores_what_every_route_reads(source, target):
    task_ids, schedule_ids = every_state(source)
    before = view(source, task_ids, schedule_ids)
    resp = import_(target, export(source))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {
        "imported": {"chains": 0, "schedules": 2, "tasks": len(task_ids)},
        "skipped": {"chains": 0, "schedules": 0, "tasks": 0},
        "rejected": 0,
        "rejected_lines": [],
        "recovered": 0,
    }
    assert view(target, task_ids, schedule_ids) == before
    assert (
        target.get("/tasky/v1/tasks/?limit=1000").get_json()
        == source.get("/tasky/v1/tasks/?limit=1000").get_json()
    )
    # The idempotency key came along: a repeat submit answers with the restored task.
    again = target.post(ECHO, json={"idempotency_key": "once"})
    assert again.status_code == 200 and again.get_json()["task_id"] == task_ids[1]


def test_ids_already_stored_are_skipped_and_counted(source, target):
    task_ids, _ = every_state(source)
    body = export(source)
    assert import_(target, body).status_code == 200
    target.post(f"/tasky/v1/tasks/{task_ids[0]}/cancel")  # the target's own change stays
    report = import_(target, body).get_json()
    assert report["imported"] == {"chains": 0, "schedules": 0, "tasks": 0}
    assert report["skipped"] == {"chains": 0, "schedules": 2, "tasks": len(task_ids)}
    assert target.get(f"/tasky/v1/tasks/{task_ids[0]}").get_json()["status"] == "canceled"


def test_running_tasks_come_back_as_after_a_crash(source, target):
    store = source.store
    retried = submit(source, {"max_retries": 1})
    failed = submit(source)
    canceling = submit(source)
    now = time.time()
    held = store.claim("echo", "elsewhere:1:x", 3, now + 1, now, now + 30)
    assert {t.id for t in held} == {retried, failed, canceling}
    store.cancel(canceling, now)
    body = export(source)
    report = import_(target, body).get_json()
    assert report["recovered"] == 3 and report["imported"]["tasks"] == 3
    got = {i: target.get(f"/tasky/v1/tasks/{i}").get_json() for i in (retried, failed, canceling)}
    assert (got[retried]["status"], got[retried]["error"]) == ("queued", "interrupted")
    assert got[retried]["attempts"] == 1
    assert (got[failed]["status"], got[failed]["error"]) == ("failed", "interrupted")
    assert got[canceling]["status"] == "canceled"
    assert all(target.store.get_task(i).owner is None for i in got)
    # The source still holds them running: the export changed nothing there.
    assert store.get_task(failed).status is TaskState.RUNNING


def test_bad_lines_are_rejected_by_number_and_the_others_imported(source, target):
    task_ids, _ = every_state(source)
    header, *lines = export(source).splitlines()
    thief = json.loads(lines[3])  # the task with the idempotency key, under a new id
    assert thief["idempotency_key"] == "once"
    thief["id"] = "f" * 32
    bad = json.loads(lines[4])
    bad["status"] = "exploded"
    thief_line = json.dumps(thief).encode()
    body = b"\n".join(
        [header, *lines[:4], b"{not json", json.dumps(bad).encode(), b"", *lines[5:], thief_line]
    )
    report = import_(target, body).get_json()
    assert report["imported"] == {"chains": 0, "schedules": 2, "tasks": len(task_ids) - 1}
    assert report["rejected"] == 3
    assert report["rejected_lines"] == [
        {"line": 6, "message": "not a JSON object"},
        {"line": 7, "message": "status: must be one of: " + ", ".join(TaskState)},
        {"line": len(lines) + 4, "message": "idempotency_key: another task holds this key"},
    ]
    assert target.get(f"/tasky/v1/tasks/{'f' * 32}").status_code == 404


def test_a_schedule_whose_trigger_does_not_read_is_rejected(source, target):
    submit(source, {"interval": 60})
    header, line = export(source).splitlines()
    record = json.loads(line)
    record.update(cron="every day", interval=None)
    report = import_(target, header + b"\n" + json.dumps(record).encode()).get_json()
    assert report["rejected"] == 1 and "cron" in report["rejected_lines"][0]["message"]


@pytest.mark.parametrize("body", [b"", b"hello\n", b'{"tasks": []}', b"[1, 2]\n", b"\xff\xfe"])
def test_a_body_that_is_no_export_is_a_400(target, body):
    assert "not a Tasky export" in assert_error(import_(target, body), 400)["message"]


def test_an_unknown_format_version_is_a_422(source, target):
    header = export(source).splitlines()[0]
    newer = json.loads(header)
    newer["format"] = 2
    body = assert_error(import_(target, json.dumps(newer).encode()), 422)
    assert "format" in body["errors"]


def test_an_import_body_of_another_type_is_a_415(source, target):
    assert_error(import_(target, export(source), content_type="text/html"), 415)


def test_the_import_has_its_own_size_limit(make_app, source):
    for _ in range(30):
        submit(source)
    body = export(source)
    assert len(body) > 4000
    small_bodies = client_of(make_app(max_body=1000))
    assert import_(small_bodies, body).get_json()["imported"]["tasks"] == 30
    small_imports = client_of(make_app(import_max_body=4000))
    assert_error(import_(small_imports, body), 413)
    assert small_imports.get("/tasky/v1/tasks/").get_json()["tasks"] == []


def test_export_and_import_need_the_token(make_app):
    client = client_of(make_app(api_token="s3cret"))
    assert_error(client.get("/tasky/v1/export"), 401)
    assert_error(import_(client, b"{}"), 401)
    auth = {"Authorization": "Bearer s3cret"}
    body = client.get("/tasky/v1/export", headers=auth).get_data()
    assert import_(client, body, headers=auth).status_code == 200


def test_both_routes_are_in_the_openapi_document(source):
    paths = source.get("/tasky/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/tasky/v1/export"]
    assert "post" in paths["/tasky/v1/import"]
