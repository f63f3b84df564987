"""``depends_on`` and ``run_if`` on submits: blocked tasks, released or skipped by the store."""

from __future__ import annotations

import pytest

from tasky.models import TaskState
from tests.api.api_helpers import assert_error, finish, start, submit

pytestmark = pytest.mark.timeout(60)


def record(client, task_id):
    return client.get(f"/tasky/v1/tasks/{task_id}").get_json()


def test_a_dependent_task_is_blocked_then_released(client, store, clock):
    parent = submit(client, "echo", config={"message": "a"})["task_id"]
    child = submit(client, "greeter", config={"who": "b"}, depends_on=[parent, parent])
    assert child["status"] == "blocked"
    got = record(client, child["task_id"])
    assert (got["depends_on"], got["run_if"], got["skip_reason"]) == ([parent], None, None)
    finish(store, clock, start(store, clock, "echo"))
    assert record(client, child["task_id"])["status"] == "queued"


def test_a_failed_parent_skips_the_child_with_a_reason(client, store, clock):
    parent = submit(client, "echo", config={"message": "a"})["task_id"]
    child = submit(client, "greeter", config={"who": "b"}, depends_on=[parent])["task_id"]
    alert = submit(
        client, "greeter", config={"who": "ops"}, depends_on=[parent], run_if="any_failed"
    )["task_id"]
    finish(store, clock, start(store, clock, "echo"), TaskState.FAILED, error="boom")
    skipped = record(client, child)
    assert (skipped["status"], skipped["skip_reason"]) == ("skipped", f"upstream failed: {parent}")
    assert record(client, alert)["status"] == "queued"


def test_a_parent_already_ended_decides_at_submit(client):
    parent = submit(client, "echo", config={"message": "a"})["task_id"]
    assert client.post(f"/tasky/v1/tasks/{parent}/cancel").status_code == 200
    child = submit(client, "greeter", config={"who": "b"}, depends_on=[parent])
    assert child["status"] == "skipped"
    cleanup = submit(client, "greeter", config={"who": "c"}, depends_on=[parent], run_if="all_done")
    assert cleanup["status"] == "queued"


def test_an_unknown_parent_is_a_422(client):
    resp = client.post(
        "/tasky/v1/workers/echo", json={"config": {"message": "x"}, "depends_on": ["0" * 32]}
    )
    assert "0" * 32 in assert_error(resp, 422)["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_if": "all_done"}, "run_if"),
        ({"depends_on": ["x"], "run_if": "sometimes"}, "run_if"),
        ({"depends_on": []}, "depends_on"),
        ({"depends_on": ["x"], "cron": "* * * * *"}, "depends_on"),
    ],
)
def test_bad_dependencies_are_422(client, body, field):
    resp = client.post("/tasky/v1/workers/echo", json={"config": {"message": "x"}, **body})
    assert field in assert_error(resp, 422)["errors"]


def test_a_batch_may_depend_on_tasks(client, store, clock):
    parent = submit(client, "echo", config={"message": "a"})["task_id"]
    tasks = [{"config": {"who": str(i)}, "depends_on": [parent]} for i in range(3)]
    resp = client.post("/tasky/v1/workers/greeter/batch", json={"tasks": tasks})
    assert resp.status_code == 201
    ids = resp.get_json()["task_ids"]
    finish(store, clock, start(store, clock, "echo"))
    assert {record(client, i)["status"] for i in ids} == {"queued"}


def test_a_reference_config_is_validated_once_resolved(client, store, clock):
    parent = submit(client, "echo", config={"message": "a"})["task_id"]
    ref = {"$from": parent, "path": "/output/name"}
    child = submit(client, "greeter", config={"who": ref}, depends_on=[parent])["task_id"]
    assert record(client, child)["config"] == {"who": ref}
    finish(store, clock, start(store, clock, "echo"), output={"name": "Ada"})
    assert record(client, child)["config"] == {"who": "Ada"}


def test_a_reference_to_another_task_than_a_parent_is_a_422(client):
    parent = submit(client, "echo", config={"message": "a"})["task_id"]
    other = submit(client, "echo", config={"message": "b"})["task_id"]
    body = {"config": {"who": {"$from": other}}, "depends_on": [parent]}
    resp = client.post("/tasky/v1/workers/greeter", json=body)
    assert "config" in assert_error(resp, 422)["errors"]
