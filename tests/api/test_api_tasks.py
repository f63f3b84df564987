"""``/tasky/v1/tasks``: reading, listing, cancelling, editing, acting on and deleting."""

from __future__ import annotations

import pytest

from tasky.api.fields import format_instant
from tasky.models import TaskState
from tests.api.api_helpers import assert_error, assert_z_time, finish, start, submit
from tests.spec_fields import ITEM_FIELDS
from tests.spec_fields import RECORD_FIELDS as SPEC_RECORD_FIELDS

pytestmark = pytest.mark.timeout(60)

RECORD_FIELDS = SPEC_RECORD_FIELDS | {"output_truncated"}
TASK_ROUTES = [
    ("get", ""),
    ("get", "/status"),
    ("get", "/result"),
    ("get", "/statistics"),
    ("post", "/cancel"),
    ("patch", ""),
    ("put", ""),
    ("delete", ""),
]
UNKNOWN_ID = "0" * 32


@pytest.fixture
def running(client, store, clock):
    """A sleeper task a runner has claimed."""
    task_id = submit(client, "sleeper", config={"seconds": 30})["task_id"]
    task = start(store, clock, "sleeper")
    assert task.id == task_id
    return task


@pytest.fixture
def finished(client, store, clock):
    """An echo task that ran 1.5 s and completed."""
    submit(client, "echo", config={"message": "done"})
    task = start(store, clock, "echo")
    clock.advance(1.5)
    return finish(store, clock, task, output={"message": "done"})


# -- reading --------------------------------------------------------------------------------


def test_get_full_record(client):
    task_id = submit(client, "greeter", config={"who": "Ada"}, timeout=10, idempotency_key="once")[
        "task_id"
    ]
    resp = client.get(f"/tasky/v1/tasks/{task_id}")
    assert resp.status_code == 200
    record = resp.get_json()
    assert set(record) >= RECORD_FIELDS
    assert "output" not in record
    assert record["task_id"] == task_id and record["worker"] == "Greeter"
    assert record["config"] == {"who": "Ada", "times": 1}
    assert record["timeout"] == 10.0 and record["idempotency_key"] == "once"
    assert record["attempts"] == 0 and record["error"] is None
    assert record["schedule_id"] is None and record["output_truncated"] is False
    for name in ("created_at", "execute_at"):
        assert_z_time(record[name])
    assert record["started_at"] is None and record["finished_at"] is None


@pytest.mark.parametrize("method, path", TASK_ROUTES)
def test_unknown_task_is_404(client, method, path):
    resp = getattr(client, method)(f"/tasky/v1/tasks/{UNKNOWN_ID}{path}", json={})
    assert_error(resp, 404)


def test_unknown_task_actions_is_404(client):
    resp = client.post(f"/tasky/v1/tasks/{UNKNOWN_ID}/actions", json={"action": "pause"})
    assert_error(resp, 404)


def test_status_of_a_waiting_task(client):
    task_id = submit(client, "echo", delay=5)["task_id"]
    resp = client.get(f"/tasky/v1/tasks/{task_id}/status")
    assert resp.status_code == 200
    status = resp.get_json()
    assert set(status) == {
        "task_id",
        "status",
        "duration",
        "attempts",
        "execute_at",
        "started_at",
        "finished_at",
    }
    assert status["status"] == "scheduled" and status["duration"] is None


def test_status_duration_of_a_running_task_grows(client, running, clock):
    status = client.get(f"/tasky/v1/tasks/{running.id}/status").get_json()
    assert status["status"] == "running" and status["attempts"] == 1
    assert status["duration"] == 0.0
    assert_z_time(status["started_at"])
    clock.advance(4.25)
    status = client.get(f"/tasky/v1/tasks/{running.id}/status").get_json()
    assert status["duration"] == pytest.approx(4.25)


def test_status_of_a_finished_task(client, finished):
    status = client.get(f"/tasky/v1/tasks/{finished.id}/status").get_json()
    assert status["status"] == "completed"
    assert status["duration"] == pytest.approx(1.5)
    assert_z_time(status["finished_at"])


def test_result_is_null_until_finished(client, running, store, clock):
    resp = client.get(f"/tasky/v1/tasks/{running.id}/result")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "task_id": running.id,
        "status": "running",
        "output": None,
        "error": None,
        "output_truncated": False,
    }
    finish(store, clock, running, output={"slept": 30})
    result = client.get(f"/tasky/v1/tasks/{running.id}/result").get_json()
    assert result["status"] == "completed" and result["output"] == {"slept": 30}


def test_result_of_a_failed_task(client, running, store, clock):
    finish(store, clock, running, status=TaskState.FAILED, error="it broke")
    result = client.get(f"/tasky/v1/tasks/{running.id}/result").get_json()
    assert result["status"] == "failed" and result["error"] == "it broke"
    record = client.get(f"/tasky/v1/tasks/{running.id}").get_json()
    assert record["error"] == "it broke"


def test_task_statistics(client, finished):
    resp = client.get(f"/tasky/v1/tasks/{finished.id}/statistics")
    assert resp.status_code == 200
    stats = resp.get_json()
    assert stats == {
        "task_id": finished.id,
        "attempts": 1,
        "queued_for": 0.0,
        "ran_for": pytest.approx(1.5),
        "lateness": 0.0,
    }


# -- listing --------------------------------------------------------------------------------


def test_list_items(client, running):
    submit(client, "echo")
    resp = client.get("/tasky/v1/tasks/")
    assert resp.status_code == 200
    page = resp.get_json()
    assert set(page) == {"tasks", "next_cursor"} and page["next_cursor"] is None
    assert len(page["tasks"]) == 2
    for item in page["tasks"]:
        assert set(item) == ITEM_FIELDS
    by_status = {item["status"]: item for item in page["tasks"]}
    assert by_status["running"]["duration"] == 0.0
    assert by_status["queued"]["duration"] is None


def test_list_without_trailing_slash(client):
    assert client.get("/tasky/v1/tasks").status_code == 200


def test_pagination_walks_every_task_once(client, clock):
    created = set()
    for _ in range(25):
        created.add(submit(client, "echo")["task_id"])
        clock.advance(0.002)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = client.get("/tasky/v1/tasks/", query_string=query).get_json()
        pages += 1
        assert len(page["tasks"]) <= 10
        seen += [item["task_id"] for item in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == created
    assert seen == sorted(seen, reverse=True)  # newest first


def test_default_limit_is_100(client):
    resp = client.post("/tasky/v1/workers/echo/batch", json={"tasks": [{}] * 101})
    assert resp.status_code == 201
    page = client.get("/tasky/v1/tasks/").get_json()
    assert len(page["tasks"]) == 100 and page["next_cursor"]


def test_filters(client, running):
    echo_now = submit(client, "echo")["task_id"]
    echo_later = submit(client, "echo", delay=60)["task_id"]
    greeter = submit(client, "greeter", config={"who": "x"})["task_id"]

    def ids(**query):
        resp = client.get("/tasky/v1/tasks/", query_string=query)
        assert resp.status_code == 200
        return {item["task_id"] for item in resp.get_json()["tasks"]}

    assert ids(worker="echo") == {echo_now, echo_later}
    assert ids(status="queued") == {echo_now, greeter}
    assert ids(status="scheduled", worker="echo") == {echo_later}
    assert ids(status="running") == {running.id}
    assert ids(worker="Greeter") == {greeter}
    assert ids(schedule_id="nothing-here") == set()


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "sleeping"}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_list_bad_query_is_422(client, query, field):
    errors = assert_error(client.get("/tasky/v1/tasks/", query_string=query), 422)["errors"]
    assert field in errors


def test_limit_bounds_are_inclusive(client):
    for limit in (1, 1000):
        assert client.get("/tasky/v1/tasks/", query_string={"limit": limit}).status_code == 200


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_waiting_task(client):
    task_id = submit(client, "echo", delay=60)["task_id"]
    resp = client.post(f"/tasky/v1/tasks/{task_id}/cancel")
    assert resp.status_code == 200
    record = resp.get_json()
    assert set(record) >= RECORD_FIELDS
    assert record["status"] == "canceled"
    assert_z_time(record["finished_at"])


def test_cancel_running_task_is_202_canceling(client, running):
    resp = client.post(f"/tasky/v1/tasks/{running.id}/cancel")
    assert resp.status_code == 202
    assert resp.get_json()["status"] == "canceling"


def test_cancel_finished_task_is_409(client, finished):
    body = assert_error(client.post(f"/tasky/v1/tasks/{finished.id}/cancel"), 409)
    assert "completed" in body["message"]


def test_cancel_with_a_body_of_another_type_is_415(client):
    task_id = submit(client, "echo", delay=60)["task_id"]
    resp = client.post(f"/tasky/v1/tasks/{task_id}/cancel", data="x", content_type="text/plain")
    assert_error(resp, 415)


def test_cancel_wrong_method_is_405(client):
    task_id = submit(client, "echo")["task_id"]
    assert_error(client.get(f"/tasky/v1/tasks/{task_id}/cancel"), 405)


# -- editing --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_edit_waiting_task(client, clock, method):
    task_id = submit(client, "greeter", config={"who": "a"}, delay=60)["task_id"]
    resp = getattr(client, method)(
        f"/tasky/v1/tasks/{task_id}",
        json={
            "config": {"who": "b"},
            "timeout": 3,
            "max_retries": 2,
            "execute_at": "2999-05-05T05:05:05Z",
        },
    )
    assert resp.status_code == 200
    record = resp.get_json()
    assert set(record) >= RECORD_FIELDS
    assert record["config"] == {"who": "b", "times": 1}
    assert record["timeout"] == 3.0 and record["max_retries"] == 2
    assert record["execute_at"] == "2999-05-05T05:05:05.000000Z"
    assert record["status"] == "scheduled"


def test_edit_delay_and_clearing_timeout(client, clock):
    task_id = submit(client, "echo", timeout=5, delay=600)["task_id"]
    resp = client.patch(f"/tasky/v1/tasks/{task_id}", json={"delay": 0, "timeout": None})
    assert resp.status_code == 200
    record = resp.get_json()
    assert record["status"] == "queued" and record["timeout"] is None
    assert record["execute_at"] == format_instant(clock())


def test_edit_with_empty_body_returns_the_record(client):
    task_id = submit(client, "echo", delay=60)["task_id"]
    resp = client.patch(f"/tasky/v1/tasks/{task_id}")
    assert resp.status_code == 200 and resp.get_json()["task_id"] == task_id


def test_edit_as_curl_d_sends_it(client):
    task_id = submit(client, "echo", delay=60)["task_id"]
    resp = client.patch(
        f"/tasky/v1/tasks/{task_id}",
        data='{"max_retries": 4}',
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200 and resp.get_json()["max_retries"] == 4


def test_edit_running_task_is_409(client, running):
    assert_error(client.patch(f"/tasky/v1/tasks/{running.id}", json={"timeout": 1}), 409)
    assert_error(client.patch(f"/tasky/v1/tasks/{running.id}", json={}), 409)


def test_edit_finished_task_is_409(client, finished):
    assert_error(client.put(f"/tasky/v1/tasks/{finished.id}", json={"max_retries": 1}), 409)


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"execute_at": "2999-01-01T00:00:00Z", "delay": 1}, {"execute_at", "delay"}),
        ({"retry_backoff": 2}, {"retry_backoff"}),
        ({"idempotency_key": "x"}, {"idempotency_key"}),
        ({"status": "completed"}, {"status"}),
        ({"timeout": -1}, {"timeout"}),
        ({"config": "x"}, {"config"}),
    ],
)
def test_edit_invalid_is_422(client, body, fields):
    task_id = submit(client, "echo", delay=60)["task_id"]
    errors = assert_error(client.patch(f"/tasky/v1/tasks/{task_id}", json=body), 422)
    assert set(errors["errors"]) == fields


def test_edit_bad_worker_config_is_422(client):
    task_id = submit(client, "greeter", config={"who": "a"}, delay=60)["task_id"]
    resp = client.patch(f"/tasky/v1/tasks/{task_id}", json={"config": {"who": 5}})
    assert "who" in assert_error(resp, 422)["errors"]["config"]


# -- actions --------------------------------------------------------------------------------


def act(client, task_id, action):
    return client.post(f"/tasky/v1/tasks/{task_id}/actions", json={"action": action})


def test_pause_resume_run(client):
    task_id = submit(client, "echo", delay=600)["task_id"]
    resp = act(client, task_id, "pause")
    assert resp.status_code == 200 and resp.get_json()["status"] == "paused"
    assert set(resp.get_json()) >= RECORD_FIELDS
    resp = act(client, task_id, "resume")
    assert resp.status_code == 200 and resp.get_json()["status"] == "scheduled"
    resp = act(client, task_id, "run")
    assert resp.status_code == 200 and resp.get_json()["status"] == "queued"


def test_run_a_paused_task(client):
    task_id = submit(client, "echo", delay=600)["task_id"]
    act(client, task_id, "pause")
    resp = act(client, task_id, "run")
    assert resp.status_code == 200 and resp.get_json()["status"] == "queued"


def test_action_cancel_answers_as_cancel(client, running):
    waiting = submit(client, "echo", delay=60)["task_id"]
    resp = act(client, waiting, "cancel")
    assert resp.status_code == 200 and resp.get_json()["status"] == "canceled"
    resp = act(client, running.id, "cancel")
    assert resp.status_code == 202 and resp.get_json()["status"] == "canceling"


def test_run_of_a_finished_task_creates_a_new_one(client, finished):
    resp = act(client, finished.id, "run")
    assert resp.status_code == 201
    copy = resp.get_json()
    assert copy["task_id"] != finished.id
    assert resp.headers["Location"] == f"/tasky/v1/tasks/{copy['task_id']}"
    assert copy["worker"] == "echo" and copy["config"] == {"message": "done"}
    assert copy["status"] == "queued"
    assert client.get(f"/tasky/v1/tasks/{finished.id}").get_json()["status"] == "completed"


def test_resume_a_task_that_is_not_paused_is_409(client):
    task_id = submit(client, "echo", delay=60)["task_id"]
    assert "scheduled" in assert_error(act(client, task_id, "resume"), 409)["message"]


@pytest.mark.parametrize("action", ["pause", "resume", "run", "cancel"])
def test_action_on_wrong_state_is_409(client, finished, running, action):
    if action != "run":
        assert_error(act(client, finished.id, action), 409)
    if action in ("pause", "resume", "run"):
        assert_error(act(client, running.id, action), 409)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "explode"}, "action"),
        ({}, "action"),
        ({"action": "run", "now": True}, "now"),
        ({"action": 1}, "action"),
    ],
)
def test_bad_action_is_422(client, body, field):
    task_id = submit(client, "echo", delay=60)["task_id"]
    resp = client.post(f"/tasky/v1/tasks/{task_id}/actions", json=body)
    assert field in assert_error(resp, 422)["errors"]


# -- deleting -------------------------------------------------------------------------------


def test_delete_finished_task(client, finished):
    resp = client.delete(f"/tasky/v1/tasks/{finished.id}")
    assert resp.status_code == 204
    assert resp.get_data() == b""
    assert_error(client.get(f"/tasky/v1/tasks/{finished.id}"), 404)
    assert_error(client.delete(f"/tasky/v1/tasks/{finished.id}"), 404)


def test_delete_non_terminal_task_is_409(client, running):
    waiting = submit(client, "echo", delay=60)["task_id"]
    assert_error(client.delete(f"/tasky/v1/tasks/{waiting}"), 409)
    assert_error(client.delete(f"/tasky/v1/tasks/{running.id}"), 409)
