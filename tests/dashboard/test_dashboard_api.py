"""The routes the dashboard polls and acts through, on a real SQLite store: the live feed
(ETag/304, one store query per interval), the overview, bulk actions bounded by a count."""

from __future__ import annotations

import json

import pytest

from tasky.config import Settings
from tasky.factory import create_app
from tasky.models import Outcome, TaskState
from tests.support import wait_for

OWNER = "runner-1"


@pytest.fixture
def app(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", runner="off"))
    yield app
    app.extensions["tasky"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["tasky"].service


def submit(client, worker="sleeper", **body):
    resp = client.post(f"/tasky/v1/workers/{worker}", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["task_id"]


def start(service, worker):
    now = service.clock()
    (task,) = service.store.claim(worker, OWNER, 1, now, now, now + 30)
    return task


def finish(service, task, status=TaskState.COMPLETED):
    (done,) = service.store.finish(
        [Outcome(task.id, OWNER, task.attempts, status, service.clock(), json.dumps(None))]
    )
    return done


def test_the_live_feed_answers_304_while_nothing_changed(client, service):
    task_id = submit(client)
    first = client.get("/tasky/v1/live")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert first.get_json()["newest_task_id"] == task_id
    queries = service.dashboard.feed_queries
    for _ in range(20):
        again = client.get("/tasky/v1/live", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    assert service.dashboard.feed_queries == queries  # within the interval: no store query
    start(service, "sleeper")
    service.dashboard._feed._fresh_until = float("-inf")  # the interval has passed
    changed = client.get("/tasky/v1/live", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    (item,) = changed.get_json()["tasks"]
    assert (item["task_id"], item["status"]) == (task_id, "running")


def test_the_overview_counts_by_state_and_worker_and_charts_a_range(client, service):
    submit(client)
    submit(client, "echo", config={"message": "a"})
    task = start(service, "echo")
    finish(service, task, TaskState.FAILED)
    first = client.get("/tasky/v1/overview?range=15m").get_json()
    assert first["counts"] is None  # counted in the background: no request waits for it
    body = wait_for(
        lambda: (b := client.get("/tasky/v1/overview?range=15m").get_json())["counts"] and b
    )
    counts = body["counts"]
    assert counts["by_status"]["queued"] == 1 and counts["by_status"]["failed"] == 1
    assert counts["by_worker"]["echo"] == {"waiting": 0, "running": 0, "finished": 1, "total": 1}
    assert counts["by_worker"]["sleeper"]["waiting"] == 1
    series = body["series"]
    assert series["bucket_seconds"] == 60 and len(series["points"]) in (15, 16)
    assert sum(p["failed"] for p in series["points"]) == 1
    assert series["points"][-1]["lateness_p95"] is not None
    assert client.get("/tasky/v1/overview?range=2y").status_code == 422


def test_a_bulk_cancel_acts_on_what_the_count_saw_and_reports_the_rest(client, service):
    ids = [submit(client) for _ in range(5)]
    submit(client, "echo", config={"message": "other worker"})
    running = start(service, "sleeper")
    action = {"action": "cancel", "filter": {"worker": "sleeper", "status": "queued"}}
    count = client.post("/tasky/v1/tasks/actions", json={**action, "dry_run": True}).get_json()
    assert (count["matched"], count["eligible"], count["max_id"]) == (4, 4, ids[-1])
    later = submit(client)
    service.store.pause(ids[-1])  # left the filter since the count
    done = client.post(
        "/tasky/v1/tasks/actions",
        json={**action, "max_id": count["max_id"], "counted": count["matched"]},
    ).get_json()
    assert done["acted"] == 3
    assert done["skipped"] == {"no longer matching the filter": 1}
    assert {service.tasks.get(i).status for i in ids[1:4]} == {TaskState.CANCELED}
    assert service.tasks.get(running.id).status is TaskState.RUNNING
    assert service.tasks.get(later).status is TaskState.QUEUED

    everything = {"action": "cancel", "filter": {"worker": "sleeper"}, "max_id": ids[-1]}
    done = client.post("/tasky/v1/tasks/actions", json=everything).get_json()
    assert done["acted"] == 2  # the running one (now canceling) and the paused one
    assert done["skipped"] == {"canceled": 3}
    assert service.tasks.get(running.id).status is TaskState.CANCELING


def test_bulk_actions_are_curl_friendly_and_validated(client):
    submit(client)
    resp = client.post(
        "/tasky/v1/tasks/actions",
        data='{"action": "pause"}',
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200 and resp.get_json()["acted"] == 1
    for bad in (
        {"action": "explode"},
        {"action": "cancel", "filter": {"status": "lost"}},
        {"action": "cancel", "filter": {"colour": "red"}},
        {"action": "cancel", "max_id": "not hex"},
        {},
    ):
        resp = client.post("/tasky/v1/tasks/actions", json=bad)
        assert resp.status_code == 422, bad
        assert resp.get_json()["errors"]


def test_bulk_delete_and_run_report_skipped_states(client, service):
    waiting = submit(client, delay=3600)
    queued = submit(client)
    done = client.post("/tasky/v1/tasks/actions", json={"action": "run"}).get_json()
    assert done["acted"] == 1 and done["skipped"] == {"queued": 1}
    assert service.tasks.get(waiting).status is TaskState.QUEUED
    finish(service, start(service, "sleeper"))
    done = client.post("/tasky/v1/tasks/actions", json={"action": "delete"}).get_json()
    assert done["acted"] == 1 and done["skipped"] == {"queued": 1}
    assert [t["task_id"] for t in client.get("/tasky/v1/tasks/").get_json()["tasks"]] == [waiting]
    assert service.store.get_task(queued) is None


def test_the_routes_are_in_openapi(client):
    paths = client.get("/tasky/v1/openapi.json").get_json()["paths"]
    assert {"/tasky/v1/live", "/tasky/v1/overview", "/tasky/v1/tasks/actions"} <= set(paths)


def test_the_routes_need_the_token(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/t.db", runner="off", api_token="sesame")
    app = create_app(settings)
    client = app.test_client()
    for method, path in (
        ("get", "/tasky/v1/live"),
        ("get", "/tasky/v1/overview"),
        ("post", "/tasky/v1/tasks/actions"),
    ):
        assert getattr(client, method)(path).status_code == 401
    assert client.get("/").status_code == 200
    app.extensions["tasky"].store.close()
