"""``/tasky/v1/workers``: listing, describing, statistics and submitting."""

from __future__ import annotations

import logging

import pytest

from tasky.api.fields import format_instant
from tasky.models import TaskState
from tests.api.api_helpers import assert_error, assert_z_time, finish, start, submit
from tests.spec_fields import WORKER_STATS_FIELDS

pytestmark = pytest.mark.timeout(60)

WORKER_FIELDS = {
    "name",
    "description",
    "usage",
    "config_objects",
    "parameters",
    "max_num_tasks",
    "enabled",
}
SUBMITTED_FIELDS = {"task_id", "worker", "status", "execute_at", "created_at"}


# -- listing and describing -----------------------------------------------------------------


def test_list_workers(client):
    resp = client.get("/tasky/v1/workers/")
    assert resp.status_code == 200
    workers = resp.get_json()
    assert isinstance(workers, list)
    by_name = {w["name"]: w for w in workers}
    assert set(by_name) == {"Greeter", "locked", "broken", "echo", "sleeper"}
    for worker in workers:
        assert set(worker) == WORKER_FIELDS
    greeter = by_name["Greeter"]
    assert greeter["parameters"]["who"] == {
        "type": "string",
        "required": True,
        "default": None,
        "help": "Whom to greet.",
    }
    assert greeter["config_objects"] == {"who": "", "times": 1}
    assert greeter["max_num_tasks"] == 2 and greeter["enabled"] is True
    assert by_name["locked"]["enabled"] is False


def test_list_workers_without_trailing_slash(client):
    assert client.get("/tasky/v1/workers").status_code == 200


def test_worker_info_is_case_insensitive(client):
    for name in ("greeter", "GREETER", "Greeter"):
        resp = client.get(f"/tasky/v1/workers/{name}/info")
        assert resp.status_code == 200
        assert resp.get_json()["name"] == "Greeter"
        assert set(resp.get_json()) == WORKER_FIELDS


@pytest.mark.parametrize("path", ["/info", "/statistics"])
def test_unknown_worker_is_404(client, path):
    body = assert_error(client.get(f"/tasky/v1/workers/nobody{path}"), 404)
    assert "nobody" in body["message"]


def test_worker_statistics(client, store, clock):
    done = submit(client, "echo")["task_id"]
    submit(client, "echo", delay=60)
    submit(client, "echo", execute_at="2999-01-01T00:00:00Z")
    task = start(store, clock, "echo")
    assert task.id == done
    clock.advance(2.5)
    finish(store, clock, task, output={"message": ""})

    resp = client.get("/tasky/v1/workers/ECHO/statistics")
    assert resp.status_code == 200
    stats = resp.get_json()
    assert set(stats) >= WORKER_STATS_FIELDS
    assert stats["name"] == "echo"
    assert stats["submitted"] == 3 and stats["scheduled"] == 2 and stats["completed"] == 1
    assert stats["failure_rate"] == 0.0
    assert stats["avg_duration"] == pytest.approx(2.5)
    assert_z_time(stats["last_finished_at"])


def test_worker_statistics_before_any_task(client):
    stats = client.get("/tasky/v1/workers/sleeper/statistics").get_json()
    assert stats["submitted"] == 0
    assert stats["failure_rate"] is None and stats["last_finished_at"] is None


# -- submitting -----------------------------------------------------------------------------


def test_submit_creates_a_task(client, clock):
    resp = client.post("/tasky/v1/workers/greeter", json={"config": {"who": "Ada"}})
    assert resp.status_code == 201
    body = resp.get_json()
    assert set(body) == SUBMITTED_FIELDS
    assert resp.headers["Location"] == f"/tasky/v1/tasks/{body['task_id']}"
    assert body["worker"] == "Greeter"
    assert body["status"] == "queued"
    assert_z_time(body["execute_at"])
    assert_z_time(body["created_at"])
    record = client.get(resp.headers["Location"]).get_json()
    assert record["config"] == {"who": "Ada", "times": 1}


def test_location_keeps_the_prefix_the_app_is_mounted_under(client):
    """Behind a proxy that mounts the app at a path (``SCRIPT_NAME``), the URLs of new tasks
    and schedules keep that path."""
    task = client.post("/tasky/v1/workers/echo", json={}, base_url="http://localhost/jobs")
    assert task.headers["Location"] == f"/jobs/tasky/v1/tasks/{task.get_json()['task_id']}"
    schedule = client.post(
        "/tasky/v1/workers/echo", json={"interval": 60}, base_url="http://localhost/jobs"
    )
    assert (
        schedule.headers["Location"]
        == f"/jobs/tasky/v1/schedules/{schedule.get_json()['schedule_id']}"
    )


def test_submit_with_empty_body_runs_with_defaults(client):
    resp = client.post("/tasky/v1/workers/sleeper")
    assert resp.status_code == 201
    record = client.get(resp.headers["Location"]).get_json()
    assert record["config"] == {"seconds": 60.0}
    assert record["max_retries"] == 0 and record["timeout"] is None


def test_submit_empty_object(client):
    assert client.post("/tasky/v1/workers/echo", json={}).status_code == 201


def test_submit_as_curl_d_sends_it(client):
    """``curl -d '{...}'`` sends application/x-www-form-urlencoded."""
    resp = client.post(
        "/tasky/v1/workers/echo",
        data='{"config": {"message": "a&b=c"}}',
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 201, resp.get_json()
    record = client.get(resp.headers["Location"]).get_json()
    assert record["config"] == {"message": "a&b=c"}


def test_submit_without_content_type(client):
    resp = client.post("/tasky/v1/workers/echo", data=b'{"config": {"message": "x"}}')
    assert resp.status_code == 201


def test_submit_json_with_charset(client):
    resp = client.post(
        "/tasky/v1/workers/echo",
        data='{"delay": 1}',
        content_type="application/json; charset=utf-8",
    )
    assert resp.status_code == 201
    assert resp.get_json()["status"] == "scheduled"


def test_submit_every_field(client, clock):
    body = {
        "config": {"message": "hi"},
        "delay": 30,
        "timeout": 5.5,
        "max_retries": 3,
        "retry_backoff": 2,
        "idempotency_key": "k-1",
    }
    resp = client.post("/tasky/v1/workers/echo", json=body)
    assert resp.status_code == 201
    record = client.get(resp.headers["Location"]).get_json()
    assert record["status"] == "scheduled"
    assert record["timeout"] == 5.5 and record["max_retries"] == 3
    assert record["retry_backoff"] == 2.0 and record["idempotency_key"] == "k-1"
    assert record["duration"] is None and record["attempts"] == 0


def test_submit_case_insensitive_worker(client):
    resp = client.post("/tasky/v1/workers/ECHO", json={})
    assert resp.status_code == 201
    assert resp.get_json()["worker"] == "echo"


def test_idempotency_key_returns_the_first_task(client, service):
    first = client.post("/tasky/v1/workers/echo", json={"idempotency_key": "abc"})
    second = client.post(
        "/tasky/v1/workers/echo", json={"idempotency_key": "abc", "config": {"message": "other"}}
    )
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    page = client.get("/tasky/v1/tasks/").get_json()
    assert len(page["tasks"]) == 1


def test_execute_at_with_offset(client):
    resp = client.post("/tasky/v1/workers/echo", json={"execute_at": "2999-03-01T12:30:00+05:00"})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["status"] == "scheduled"
    assert body["execute_at"] == "2999-03-01T07:30:00.000000Z"


def test_naive_execute_at_is_utc_by_default(client):
    body = submit(client, "echo", execute_at="2999-07-01T12:00:00")
    assert body["execute_at"] == "2999-07-01T12:00:00.000000Z"


@pytest.mark.parametrize(
    "naive, utc",
    [
        ("2999-07-01T12:00:00", "2999-07-01T10:00:00.000000Z"),  # CEST, +02:00
        ("2999-01-15T12:00:00.250", "2999-01-15T11:00:00.250000Z"),  # CET, +01:00
    ],
)
def test_naive_execute_at_is_read_in_tasky_timezone(make_app, naive, utc):
    client = make_app(timezone="Europe/Paris").test_client()
    body = submit(client, "echo", execute_at=naive)
    assert body["execute_at"] == utc


def test_execute_at_in_the_past_means_now(client, clock):
    body = submit(client, "echo", execute_at="2001-01-01T00:00:00Z")
    assert body["status"] == "queued"
    assert body["execute_at"] == body["created_at"]


def test_delay_sets_execute_at(client, clock):
    body = submit(client, "echo", delay=90)
    assert body["status"] == "scheduled"
    assert body["execute_at"] == format_instant(clock() + 90)


# -- submit errors --------------------------------------------------------------------------


def test_submit_unknown_worker_is_404(client):
    assert_error(client.post("/tasky/v1/workers/nobody", json={}), 404)


def test_submit_disabled_worker_is_403(client):
    body = assert_error(client.post("/tasky/v1/workers/locked", json={}), 403)
    assert "locked" in body["message"]


def test_get_on_submit_route_is_405(client):
    resp = client.get("/tasky/v1/workers/echo")
    assert_error(resp, 405)
    assert "POST" in resp.headers["Allow"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"bogus": 1}, "bogus"),
        ({"cron": 5}, "cron"),
        ({"delay": "soon"}, "delay"),
        ({"delay": -1}, "delay"),
        ({"delay": True}, "delay"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": "2"}, "max_retries"),
        ({"retry_backoff": 0}, "retry_backoff"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
        ({"config": [1, 2]}, "config"),
        ({"execute_at": "tomorrow"}, "execute_at"),
        ({"execute_at": 1767225600}, "execute_at"),
        ({"execute_at": "9999-12-31T23:59:59-05:00"}, "execute_at"),
        ({"execute_at": "0001-01-01T00:00:00+01:00"}, "execute_at"),
    ],
)
def test_submit_invalid_field_is_422(client, body, field):
    errors = assert_error(client.post("/tasky/v1/workers/echo", json=body), 422)["errors"]
    assert field in errors and isinstance(errors[field], list)


def test_submit_execute_at_and_delay_together_is_422(client):
    resp = client.post(
        "/tasky/v1/workers/echo", json={"execute_at": "2999-01-01T00:00:00Z", "delay": 5}
    )
    errors = assert_error(resp, 422)["errors"]
    assert set(errors) == {"execute_at", "delay"}


def test_submit_bad_worker_config_is_422_per_field(client):
    resp = client.post("/tasky/v1/workers/greeter", json={"config": {"times": "x"}})
    errors = assert_error(resp, 422)["errors"]
    assert set(errors["config"]) == {"who", "times"}


def test_submit_unknown_config_field_is_422(client):
    resp = client.post("/tasky/v1/workers/echo", json={"config": {"mesage": "typo"}})
    assert "mesage" in assert_error(resp, 422)["errors"]["config"]


def test_validation_errors_are_not_nested_by_location(client):
    errors = assert_error(client.post("/tasky/v1/workers/echo", json={"delay": -1}), 422)
    assert "json" not in errors["errors"]


def test_unhandled_exception_is_json_500_and_logged(app, client, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        resp = client.post("/tasky/v1/workers/broken", json={})
    body = assert_error(resp, 500)
    assert "boom" not in resp.get_data(as_text=True)
    assert "log" in body["message"]
    records = [r for r in caplog.records if r.exc_info]
    assert records and "boom in validate" in str(records[0].exc_info[1])


# -- batch ----------------------------------------------------------------------------------


def test_batch_creates_all(client):
    tasks = [{"config": {"message": str(i)}} for i in range(5)] + [{"delay": 10}]
    resp = client.post("/tasky/v1/workers/Echo/batch", json={"tasks": tasks})
    assert resp.status_code == 201
    ids = resp.get_json()["task_ids"]
    assert len(ids) == 6 and len(set(ids)) == 6
    records = [client.get(f"/tasky/v1/tasks/{i}").get_json() for i in ids]
    assert [r["config"]["message"] for r in records[:5]] == ["0", "1", "2", "3", "4"]
    assert records[5]["status"] == "scheduled"


def test_batch_form_content_type(client):
    resp = client.post(
        "/tasky/v1/workers/echo/batch",
        data='{"tasks": [{}, {}]}',
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 201 and len(resp.get_json()["task_ids"]) == 2


def test_batch_with_an_invalid_item_names_its_index(client):
    tasks = [{}, {}, {"delay": -1}, {}]
    errors = assert_error(client.post("/tasky/v1/workers/echo/batch", json={"tasks": tasks}), 422)[
        "errors"
    ]
    assert set(errors["tasks"]) == {"2"}
    assert "delay" in errors["tasks"]["2"]
    assert client.get("/tasky/v1/tasks/").get_json()["tasks"] == []


def test_batch_with_a_bad_config_names_its_index(client):
    tasks = [{"config": {"who": "a"}}] * 3 + [{"config": {}}]
    errors = assert_error(
        client.post("/tasky/v1/workers/greeter/batch", json={"tasks": tasks}), 422
    )["errors"]
    assert set(errors["tasks"]) == {"3"}
    assert "who" in errors["tasks"]["3"]["config"]
    assert client.get("/tasky/v1/tasks/").get_json()["tasks"] == []


def test_batch_with_execute_at_and_delay_in_one_item(client):
    tasks = [{}, {"execute_at": "2999-01-01T00:00:00Z", "delay": 1}]
    errors = assert_error(client.post("/tasky/v1/workers/echo/batch", json={"tasks": tasks}), 422)[
        "errors"
    ]
    assert set(errors["tasks"]["1"]) == {"execute_at", "delay"}


def test_batch_with_a_schedule_item_names_its_index(client):
    tasks = [{}, {"cron": "* * * * *"}, {}]
    errors = assert_error(client.post("/tasky/v1/workers/echo/batch", json={"tasks": tasks}), 422)[
        "errors"
    ]
    assert errors["tasks"] == {
        "1": {"cron": ["A batch creates tasks only; submit a schedule on its own."]}
    }
    assert client.get("/tasky/v1/tasks/").get_json()["tasks"] == []


def test_batch_of_not_a_list_says_so(client):
    errors = assert_error(client.post("/tasky/v1/workers/echo/batch", json={"tasks": {}}), 422)[
        "errors"
    ]
    assert errors == {"tasks": ["Not a valid list of tasks."]}


def test_batch_items_share_a_config_but_get_their_own_ids(client):
    tasks = [{"config": {"message": "same"}}, {}, {"config": {"message": "same"}}, {}]
    ids = client.post("/tasky/v1/workers/echo/batch", json={"tasks": tasks}).get_json()
    records = [client.get(f"/tasky/v1/tasks/{i}").get_json() for i in ids["task_ids"]]
    assert [r["config"] for r in records] == [{"message": "same"}, {"message": ""}] * 2
    assert len({r["task_id"] for r in records}) == 4


@pytest.mark.parametrize(
    "body", [{}, {"tasks": []}, {"tasks": {}}, {"tasks": [1]}, {"tasks": [{}], "extra": 1}]
)
def test_batch_malformed_is_422(client, body):
    assert_error(client.post("/tasky/v1/workers/echo/batch", json=body), 422)


def test_batch_of_10000_is_accepted_and_10001_is_not(client):
    resp = client.post("/tasky/v1/workers/echo/batch", json={"tasks": [{}] * 10_001})
    assert "tasks" in assert_error(resp, 422)["errors"]
    resp = client.post("/tasky/v1/workers/echo/batch", json={"tasks": [{}] * 10_000})
    assert resp.status_code == 201
    assert len(resp.get_json()["task_ids"]) == 10_000


def test_batch_unknown_and_disabled_worker(client):
    assert_error(client.post("/tasky/v1/workers/nobody/batch", json={"tasks": [{}]}), 404)
    assert_error(client.post("/tasky/v1/workers/locked/batch", json={"tasks": [{}]}), 403)


def test_submitted_task_is_stored_before_the_answer(client, store):
    task_id = submit(client, "echo")["task_id"]
    assert store.get_task(task_id).status is TaskState.QUEUED


@pytest.mark.parametrize(
    "body",
    [None, {}, {"tasks": []}, {"tasks": "nope"}, {"tasks": [{"delay": -1}]}, {"unknown": 1}],
)
def test_batch_to_an_unknown_worker_is_404_whatever_the_body(client, body):
    resp = client.post("/tasky/v1/workers/nobody/batch", json=body)
    assert "nobody" in assert_error(resp, 404)["message"]


@pytest.mark.parametrize("body", [None, {}, {"tasks": []}, {"tasks": [{"delay": -1}]}])
def test_batch_to_a_disabled_worker_is_403_whatever_the_body(client, body):
    assert_error(client.post("/tasky/v1/workers/locked/batch", json=body), 403)


@pytest.mark.parametrize("body", [{"delay": -1}, {"unknown": 1}, {"cron": "nope"}])
def test_submit_to_an_unknown_or_disabled_worker_is_checked_before_the_body(client, body):
    assert_error(client.post("/tasky/v1/workers/nobody", json=body), 404)
    assert_error(client.post("/tasky/v1/workers/locked", json=body), 403)


def test_a_body_that_is_not_json_still_gets_its_own_error_on_a_known_worker(client):
    resp = client.post("/tasky/v1/workers/echo/batch", data="{", content_type="application/json")
    assert_error(resp, 400)
