"""Schedules over HTTP: creating one by submitting a ``cron`` or ``interval``, then
``/tasky/v1/schedules``: reading, listing, changing, pausing, resuming, firing and deleting.

The fake clock is pinned to ``T0`` so every ``next_run_at`` is exact; no runtime thread runs,
so a schedule fires only through its ``run`` action."""

from __future__ import annotations

from datetime import datetime

import pytest

from tasky.api.fields import format_instant
from tasky.models import TaskState
from tests.api.api_helpers import assert_error, assert_z_time, finish, start, submit
from tests.spec_fields import SCHEDULE_FIELDS as SPEC_SCHEDULE_FIELDS
from tests.spec_fields import SCHEDULE_SUBMITTED_FIELDS

pytestmark = pytest.mark.timeout(60)

SUBMITTED_FIELDS = SCHEDULE_SUBMITTED_FIELDS
SCHEDULE_FIELDS = SPEC_SCHEDULE_FIELDS | {"timeout", "max_retries", "retry_backoff"}
UNKNOWN_ID = "0" * 32
BASE = "/tasky/v1/schedules"


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def z(iso: str) -> str:
    """How the API writes an instant: ``2026-03-07T07:30:00Z`` → ``…07:30:00.000000Z``."""
    return format_instant(epoch(iso))


T0 = epoch("2026-03-01T12:00:17.250Z")  # a Sunday, 07:00 in New York (EST)


@pytest.fixture(autouse=True)
def pinned_clock(clock):
    clock.now = T0
    return clock


def create(client, worker: str = "echo", **body) -> dict:
    """Submit a schedule: 201, Location of the schedule, the SPEC's answer."""
    resp = client.post(f"/tasky/v1/workers/{worker}", json=body)
    assert resp.status_code == 201, resp.get_json()
    answer = resp.get_json()
    assert set(answer) == SUBMITTED_FIELDS
    assert resp.headers["Location"] == f"{BASE}/{answer['schedule_id']}"
    return answer


def get(client, schedule_id: str) -> dict:
    resp = client.get(f"{BASE}/{schedule_id}")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def act(client, schedule_id: str, action: str):
    return client.post(f"{BASE}/{schedule_id}/actions", json={"action": action})


def runs_of(client, schedule_id: str) -> list[dict]:
    resp = client.get("/tasky/v1/tasks/", query_string={"schedule_id": schedule_id})
    assert resp.status_code == 200
    return resp.get_json()["tasks"]


# -- creating -------------------------------------------------------------------------------


def test_create_cron_schedule(client):
    answer = create(
        client,
        "echo",
        cron="30 2 * * *",
        timezone="America/New_York",
        start_at="2026-03-07T00:00:00Z",
        config={"message": "nightly"},
    )
    assert answer["worker"] == "echo"
    assert answer["next_run_at"] == z("2026-03-07T07:30:00Z")  # 02:30 EST
    assert answer["created_at"] == format_instant(T0)

    schedule = get(client, answer["schedule_id"])
    assert set(schedule) == SCHEDULE_FIELDS
    assert schedule == {
        "schedule_id": answer["schedule_id"],
        "worker": "echo",
        "config": {"message": "nightly"},
        "cron": "30 2 * * *",
        "interval": None,
        "timezone": "America/New_York",
        "status": "active",
        "next_run_at": z("2026-03-07T07:30:00Z"),
        "last_run_at": None,
        "last_task_id": None,
        "runs": 0,
        "overlap": "skip",
        "misfire": "run_once",
        "start_at": z("2026-03-07T00:00:00Z"),
        "end_at": None,
        "created_at": format_instant(T0),
        "timeout": None,
        "max_retries": 0,
        "retry_backoff": 1.0,
    }
    assert runs_of(client, answer["schedule_id"]) == []  # a schedule is not a task


def test_cron_time_in_a_dst_gap_fires_when_the_gap_ends(client):
    # 2026-03-08 02:30 does not exist in New York: the clocks jump from 02:00 EST to 03:00 EDT
    answer = create(
        client, cron="30 2 * * *", timezone="America/New_York", start_at="2026-03-08T00:00:00Z"
    )
    assert answer["next_run_at"] == z("2026-03-08T07:00:00Z")  # 03:00 EDT


def test_cron_without_start_at_fires_at_the_next_match(client):
    answer = create(client, cron="30 2 * * *", timezone="America/New_York")
    assert answer["next_run_at"] == z("2026-03-02T07:30:00Z")
    assert create(client, cron="@hourly")["next_run_at"] == z("2026-03-01T13:00:00Z")


def test_cron_default_timezone_is_tasky_timezone(make_app):
    client = make_app().test_client()
    answer = create(client, cron="0 9 * * *")
    assert answer["next_run_at"] == z("2026-03-02T09:00:00Z")
    assert get(client, answer["schedule_id"])["timezone"] == "UTC"

    client = make_app(timezone="Europe/Paris").test_client()
    answer = create(client, cron="0 9 * * *")
    assert answer["next_run_at"] == z("2026-03-02T08:00:00Z")  # 09:00 CET
    assert get(client, answer["schedule_id"])["timezone"] == "Europe/Paris"


def test_naive_start_at_is_read_in_tasky_timezone(make_app):
    client = make_app(timezone="America/New_York").test_client()
    answer = create(client, interval=60, start_at="2026-03-07T00:00:00")
    assert answer["next_run_at"] == z("2026-03-07T05:00:00Z")


def test_create_interval_schedule(client):
    answer = create(client, "echo", interval=90)
    assert answer["next_run_at"] == format_instant(T0 + 90)  # one interval after creation
    schedule = get(client, answer["schedule_id"])
    assert schedule["interval"] == 90.0 and schedule["cron"] is None
    assert schedule["status"] == "active"


def test_interval_schedule_first_fires_at_start_at(client):
    answer = create(client, interval=30, start_at="2026-03-05T00:00:00+01:00")
    assert answer["next_run_at"] == z("2026-03-04T23:00:00Z")


def test_create_with_every_option(client):
    answer = create(
        client,
        "GREETER",
        cron="*/15 * * * *",
        config={"who": "Ada"},
        overlap="allow",
        misfire="skip",
        timeout=5,
        max_retries=2,
        retry_backoff=3,
        start_at="2026-03-02T00:00:00Z",
        end_at="2026-04-01T00:00:00Z",
    )
    assert answer["worker"] == "Greeter"
    schedule = get(client, answer["schedule_id"])
    assert schedule["config"] == {"who": "Ada", "times": 1}
    assert schedule["overlap"] == "allow" and schedule["misfire"] == "skip"
    assert schedule["timeout"] == 5.0 and schedule["max_retries"] == 2
    assert schedule["retry_backoff"] == 3.0
    assert schedule["start_at"] == z("2026-03-02T00:00:00Z")
    assert schedule["end_at"] == z("2026-04-01T00:00:00Z")
    assert schedule["next_run_at"] == z("2026-03-02T00:00:00Z")
    for name in ("next_run_at", "created_at", "start_at", "end_at"):
        assert_z_time(schedule[name])


def test_create_as_curl_d_sends_it(client):
    resp = client.post(
        "/tasky/v1/workers/echo",
        data='{"interval": 60}',
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 201
    assert resp.headers["Location"].startswith(f"{BASE}/")


def test_schedule_is_stored_before_the_answer(client, store):
    answer = create(client, interval=60)
    stored = store.get_schedule(answer["schedule_id"])
    assert stored is not None and stored.next_run_at == T0 + 60


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({"cron": "61 * * * *"}, "cron", "minute"),
        ({"cron": "0 25 * * *"}, "cron", "hour"),
        ({"cron": "* * *"}, "cron", "5 fields"),
        ({"cron": ""}, "cron", "5 fields"),
        ({"cron": "@sometimes"}, "cron", "alias"),
        ({"cron": "0 9 31 2 *"}, "cron", "never occurs"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"interval": 60, "timezone": "Not/AZone"}, "timezone", "Not/AZone"),
        ({"interval": 0}, "interval", "interval must be greater than 0"),
        ({"interval": -1}, "interval", "interval must be greater than 0"),
        (
            {"interval": 60, "start_at": "2026-03-05T00:00:00Z", "end_at": "2026-03-04T00:00:00Z"},
            "end_at",
            "before start_at",
        ),
        ({"cron": "* * * * *", "overlap": "sometimes"}, "overlap", None),
        ({"cron": "* * * * *", "misfire": "later"}, "misfire", None),
        ({"cron": 5}, "cron", None),
        ({"interval": "often"}, "interval", None),
        ({"interval": True}, "interval", None),
        ({"interval": 1e12}, "interval", None),
        ({"cron": "* * * * *", "timezone": ""}, "timezone", None),
        ({"cron": "* * * * *", "start_at": "monday"}, "start_at", None),
    ],
)
def test_invalid_schedule_is_422(client, body, field, says):
    body = assert_error(client.post("/tasky/v1/workers/echo", json=body), 422)
    assert field in body["errors"], body
    if says:
        assert says in " ".join(body["errors"][field]), body
        assert says in body["message"] or body["message"] == "The request does not validate."
    assert client.get(f"{BASE}/").get_json()["schedules"] == []


def test_bad_cron_message_says_what_is_wrong(client):
    body = assert_error(client.post("/tasky/v1/workers/echo", json={"cron": "0 9 * * 8"}), 422)
    assert "day-of-week" in body["message"] and "'8'" in body["message"]


def test_cron_and_interval_together_is_422_on_both(client):
    resp = client.post("/tasky/v1/workers/echo", json={"cron": "* * * * *", "interval": 60})
    errors = assert_error(resp, 422)["errors"]
    assert set(errors) == {"cron", "interval"}


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"timezone": "UTC"}, {"timezone"}),
        ({"start_at": "2026-03-05T00:00:00Z", "overlap": "allow"}, {"start_at", "overlap"}),
        ({"misfire": "skip", "end_at": "2026-03-05T00:00:00Z"}, {"misfire", "end_at"}),
    ],
)
def test_schedule_options_without_a_trigger_are_422(client, body, fields):
    body = assert_error(client.post("/tasky/v1/workers/echo", json=body), 422)
    assert set(body["errors"]) == fields
    assert "cron or interval" in body["message"]
    assert client.get("/tasky/v1/tasks/").get_json()["tasks"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"cron": "* * * * *", "execute_at": "2026-03-05T00:00:00Z"}, "execute_at"),
        ({"interval": 60, "delay": 5}, "delay"),
        ({"cron": "* * * * *", "idempotency_key": "once"}, "idempotency_key"),
    ],
)
def test_task_only_fields_with_a_trigger_are_422(client, body, field):
    errors = assert_error(client.post("/tasky/v1/workers/echo", json=body), 422)["errors"]
    assert set(errors) == {field}
    assert "start_at" in errors[field][0]
    assert client.get(f"{BASE}/").get_json()["schedules"] == []


def test_bad_worker_config_in_a_schedule_is_422(client):
    resp = client.post(
        "/tasky/v1/workers/greeter", json={"cron": "* * * * *", "config": {"times": "x"}}
    )
    errors = assert_error(resp, 422)["errors"]
    assert set(errors["config"]) == {"who", "times"}
    resp = client.post("/tasky/v1/workers/echo", json={"interval": 5, "config": {"mesage": 1}})
    assert "mesage" in assert_error(resp, 422)["errors"]["config"]
    assert client.get(f"{BASE}/").get_json()["schedules"] == []


def test_schedule_for_unknown_or_disabled_worker(client):
    assert_error(client.post("/tasky/v1/workers/nobody", json={"interval": 60}), 404)
    assert_error(client.post("/tasky/v1/workers/locked", json={"interval": 60}), 403)


def test_batch_items_cannot_be_schedules(client):
    tasks = [{}, {"cron": "* * * * *"}, {}, {"interval": 60, "timezone": "UTC"}]
    resp = client.post("/tasky/v1/workers/echo/batch", json={"tasks": tasks})
    errors = assert_error(resp, 422)["errors"]
    assert set(errors["tasks"]) == {"1", "3"}
    assert set(errors["tasks"]["1"]) == {"cron"}
    assert set(errors["tasks"]["3"]) == {"interval", "timezone"}
    assert client.get("/tasky/v1/tasks/").get_json()["tasks"] == []
    assert client.get(f"{BASE}/").get_json()["schedules"] == []


# -- reading and listing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", "", None),
        ("patch", "", {"interval": 60}),
        ("put", "", {}),
        ("delete", "", None),
        ("post", "/actions", {"action": "pause"}),
        ("post", "/actions", {"action": "resume"}),
        ("post", "/actions", {"action": "run"}),
    ],
)
def test_unknown_schedule_is_404(client, method, path, body):
    resp = getattr(client, method)(f"{BASE}/{UNKNOWN_ID}{path}", json=body)
    assert_error(resp, 404)


def test_list_schedules(client, clock):
    ids = []
    for body in ({"interval": 60}, {"cron": "@daily"}, {"interval": 5, "overlap": "allow"}):
        ids.append(create(client, **body)["schedule_id"])
        clock.advance(0.002)
    resp = client.get(f"{BASE}/")
    assert resp.status_code == 200
    page = resp.get_json()
    assert set(page) == {"schedules", "next_cursor"} and page["next_cursor"] is None
    assert [s["schedule_id"] for s in page["schedules"]] == ids[::-1]  # newest first
    for item in page["schedules"]:
        assert set(item) == SCHEDULE_FIELDS
    assert client.get(BASE).status_code == 200


def test_pagination_walks_every_schedule_once(client, clock):
    created = set()
    for _ in range(25):
        created.add(create(client, interval=60)["schedule_id"])
        clock.advance(0.002)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        resp = client.get(f"{BASE}/", query_string=query)
        assert resp.status_code == 200
        page = resp.get_json()
        pages += 1
        assert len(page["schedules"]) <= 10
        seen += [item["schedule_id"] for item in page["schedules"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25 and set(seen) == created
    assert seen == sorted(seen, reverse=True)


def test_default_limit_is_100(client, clock):
    for _ in range(101):
        create(client, interval=60)
        clock.advance(0.001)
    page = client.get(f"{BASE}/").get_json()
    assert len(page["schedules"]) == 100 and page["next_cursor"]
    rest = client.get(f"{BASE}/", query_string={"cursor": page["next_cursor"]}).get_json()
    assert len(rest["schedules"]) == 1 and rest["next_cursor"] is None


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_list_bad_query_is_422(client, query, field):
    errors = assert_error(client.get(f"{BASE}/", query_string=query), 422)["errors"]
    assert field in errors


def test_limit_bounds_are_inclusive(client):
    for limit in (1, 1000):
        assert client.get(f"{BASE}/", query_string={"limit": limit}).status_code == 200


# -- changing -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_switch_interval_to_cron_recomputes_next_run(client, clock, method):
    schedule_id = create(client, interval=60)["schedule_id"]
    clock.advance(30)
    resp = getattr(client, method)(
        f"{BASE}/{schedule_id}", json={"cron": "30 2 * * *", "timezone": "America/New_York"}
    )
    assert resp.status_code == 200
    schedule = resp.get_json()
    assert set(schedule) == SCHEDULE_FIELDS
    assert schedule["cron"] == "30 2 * * *" and schedule["interval"] is None
    assert schedule["timezone"] == "America/New_York"
    assert schedule["next_run_at"] == z("2026-03-02T07:30:00Z")
    assert get(client, schedule_id) == schedule


def test_switch_cron_to_interval_recomputes_next_run(client, clock):
    schedule_id = create(client, cron="@daily")["schedule_id"]
    clock.advance(1000)
    schedule = client.patch(f"{BASE}/{schedule_id}", json={"interval": 600}).get_json()
    assert schedule["cron"] is None and schedule["interval"] == 600.0
    # ticks at created_at + k * 600: the first not before now (T0 + 1000)
    assert schedule["next_run_at"] == format_instant(T0 + 1200)


def test_patch_start_and_end(client):
    schedule_id = create(client, interval=60, end_at="2026-04-01T00:00:00Z")["schedule_id"]
    schedule = client.patch(
        f"{BASE}/{schedule_id}", json={"start_at": "2026-03-10T00:00:00Z", "end_at": None}
    ).get_json()
    assert schedule["start_at"] == z("2026-03-10T00:00:00Z") and schedule["end_at"] is None
    assert schedule["next_run_at"] == z("2026-03-10T00:00:00Z")
    schedule = client.patch(f"{BASE}/{schedule_id}", json={"start_at": None}).get_json()
    assert schedule["start_at"] is None
    assert schedule["next_run_at"] == format_instant(T0 + 60)


def test_patch_config_and_options(client):
    schedule_id = create(client, "greeter", interval=60, config={"who": "a"}, timeout=5)[
        "schedule_id"
    ]
    resp = client.patch(
        f"{BASE}/{schedule_id}",
        json={
            "config": {"who": "b", "times": 2},
            "overlap": "allow",
            "misfire": "skip",
            "timeout": None,
            "max_retries": 3,
            "retry_backoff": 2.5,
        },
    )
    assert resp.status_code == 200
    schedule = resp.get_json()
    assert schedule["config"] == {"who": "b", "times": 2}
    assert schedule["overlap"] == "allow" and schedule["misfire"] == "skip"
    assert schedule["timeout"] is None and schedule["max_retries"] == 3
    assert schedule["retry_backoff"] == 2.5
    assert schedule["interval"] == 60.0 and schedule["next_run_at"] == format_instant(T0 + 60)


def test_patch_with_empty_body_returns_the_schedule(client):
    answer = create(client, interval=60)
    resp = client.patch(f"{BASE}/{answer['schedule_id']}")
    assert resp.status_code == 200
    assert resp.get_json()["next_run_at"] == answer["next_run_at"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"cron": "* * * * *", "interval": 60}, "interval"),
        ({"interval": 0}, "interval"),
        ({"interval": -1}, "interval"),
        ({"cron": "99 * * * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"start_at": "2026-03-05T00:00:00Z", "end_at": "2026-03-04T00:00:00Z"}, "end_at"),
        ({"end_at": "2026-03-03T00:00:00Z"}, "end_at"),  # before the stored start_at
        ({"overlap": "sometimes"}, "overlap"),
        ({"cron": None}, "cron"),
        ({"status": "paused"}, "status"),
        ({"worker": "Greeter"}, "worker"),
        ({"execute_at": "2026-03-05T00:00:00Z"}, "execute_at"),
        ({"idempotency_key": "x"}, "idempotency_key"),
        ({"config": {"bogus": 1}}, "config"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_patch_invalid_is_422(client, body, field):
    schedule_id = create(client, interval=60, start_at="2026-03-04T00:00:00Z")["schedule_id"]
    before = get(client, schedule_id)
    errors = assert_error(client.patch(f"{BASE}/{schedule_id}", json=body), 422)["errors"]
    assert field in errors
    assert get(client, schedule_id) == before


def test_patch_a_paused_schedule_keeps_it_paused(client):
    schedule_id = create(client, interval=60)["schedule_id"]
    act(client, schedule_id, "pause")
    schedule = client.patch(f"{BASE}/{schedule_id}", json={"interval": 120}).get_json()
    assert schedule["status"] == "paused" and schedule["interval"] == 120.0
    assert_error(client.patch(f"{BASE}/{schedule_id}", json={"cron": "nope"}), 422)


# -- actions --------------------------------------------------------------------------------


def test_pause_and_resume(client, clock):
    schedule_id = create(client, interval=60)["schedule_id"]
    resp = act(client, schedule_id, "pause")
    assert resp.status_code == 200
    schedule = resp.get_json()
    assert set(schedule) == SCHEDULE_FIELDS and schedule["status"] == "paused"
    assert get(client, schedule_id)["status"] == "paused"

    body = assert_error(act(client, schedule_id, "pause"), 409)
    assert "paused" in body["message"]

    clock.advance(3600 + 15)  # ticks missed while paused are not made up
    resp = act(client, schedule_id, "resume")
    assert resp.status_code == 200
    schedule = resp.get_json()
    assert schedule["status"] == "active"
    assert schedule["next_run_at"] == format_instant(T0 + 61 * 60)
    assert epoch(schedule["next_run_at"]) > clock()

    body = assert_error(act(client, schedule_id, "resume"), 409)
    assert "active" in body["message"]


def test_run_fires_once_now(client, clock):
    answer = create(client, "greeter", cron="@daily", config={"who": "Ada"}, max_retries=2)
    schedule_id = answer["schedule_id"]
    clock.advance(10)
    resp = act(client, schedule_id, "run")
    assert resp.status_code == 201
    task = resp.get_json()
    assert resp.headers["Location"] == f"/tasky/v1/tasks/{task['task_id']}"
    assert task["schedule_id"] == schedule_id and task["worker"] == "Greeter"
    assert task["status"] == "queued" and task["config"] == {"who": "Ada", "times": 1}
    assert task["max_retries"] == 2
    assert task["execute_at"] == format_instant(clock())

    assert [t["task_id"] for t in runs_of(client, schedule_id)] == [task["task_id"]]
    record = client.get(resp.headers["Location"]).get_json()
    assert record["schedule_id"] == schedule_id

    schedule = get(client, schedule_id)
    assert schedule["runs"] == 1 and schedule["last_task_id"] == task["task_id"]
    assert schedule["last_run_at"] == format_instant(clock())
    assert schedule["next_run_at"] == answer["next_run_at"]  # the trigger is untouched

    clock.advance(1)
    second = act(client, schedule_id, "run").get_json()
    schedule = get(client, schedule_id)
    assert schedule["runs"] == 2 and schedule["last_task_id"] == second["task_id"]
    assert {t["task_id"] for t in runs_of(client, schedule_id)} == {
        task["task_id"],
        second["task_id"],
    }


def test_run_a_paused_schedule(client):
    schedule_id = create(client, interval=60)["schedule_id"]
    act(client, schedule_id, "pause")
    resp = act(client, schedule_id, "run")
    assert resp.status_code == 201 and resp.get_json()["schedule_id"] == schedule_id
    assert get(client, schedule_id)["status"] == "paused"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "cancel"}, "action"),
        ({"action": "explode"}, "action"),
        ({}, "action"),
        ({"action": 1}, "action"),
        ({"action": "run", "now": True}, "now"),
    ],
)
def test_bad_action_is_422(client, body, field):
    schedule_id = create(client, interval=60)["schedule_id"]
    resp = client.post(f"{BASE}/{schedule_id}/actions", json=body)
    assert field in assert_error(resp, 422)["errors"]


def test_action_with_a_body_of_another_type_is_415(client):
    schedule_id = create(client, interval=60)["schedule_id"]
    resp = client.post(
        f"{BASE}/{schedule_id}/actions", data='{"action": "pause"}', content_type="text/plain"
    )
    assert_error(resp, 415)


# -- deleting -------------------------------------------------------------------------------


def test_delete_cancels_waiting_runs_and_keeps_the_others(client, store, clock):
    schedule_id = create(client, "echo", cron="@daily")["schedule_id"]
    ids = []
    for _ in range(3):
        ids.append(act(client, schedule_id, "run").get_json()["task_id"])
        clock.advance(0.01)
    done = start(store, clock, "echo")
    assert done.id == ids[0]
    clock.advance(1)
    finish(store, clock, done, output={"message": ""})
    running = start(store, clock, "echo")
    assert running.id == ids[1]

    resp = client.delete(f"{BASE}/{schedule_id}")
    assert resp.status_code == 204 and resp.get_data() == b""
    assert_error(client.get(f"{BASE}/{schedule_id}"), 404)
    assert_error(client.delete(f"{BASE}/{schedule_id}"), 404)
    assert client.get(f"{BASE}/").get_json()["schedules"] == []

    status = {i: client.get(f"/tasky/v1/tasks/{i}").get_json()["status"] for i in ids}
    assert status == {ids[0]: "completed", ids[1]: "running", ids[2]: "canceled"}
    canceled = client.get(f"/tasky/v1/tasks/{ids[2]}").get_json()
    assert canceled["finished_at"] == format_instant(clock())
    assert store.get_task(ids[2]).status is TaskState.CANCELED
    assert {t["task_id"] for t in runs_of(client, schedule_id)} == set(ids)


# -- routes, auth and OpenAPI ---------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/"),
        ("delete", "/"),
        ("post", "/{id}"),
        ("get", "/{id}/actions"),
        ("delete", "/{id}/actions"),
    ],
)
def test_wrong_method_is_405(client, method, path):
    schedule_id = create(client, interval=60)["schedule_id"]
    resp = getattr(client, method)(BASE + path.format(id=schedule_id))
    assert_error(resp, 405)
    assert resp.headers["Allow"]


def test_schedule_routes_need_the_token(make_app):
    token = "s3cret-token"
    client = make_app(api_token=token).test_client()
    good = {"Authorization": f"Bearer {token}"}
    assert_error(client.post("/tasky/v1/workers/echo", json={"interval": 60}), 401)
    resp = client.post("/tasky/v1/workers/echo", json={"interval": 60}, headers=good)
    assert resp.status_code == 201
    location = resp.headers["Location"]
    for method, path, body in [
        ("get", f"{BASE}/", None),
        ("get", location, None),
        ("patch", location, {"interval": 5}),
        ("put", location, {"interval": 5}),
        ("post", f"{location}/actions", {"action": "pause"}),
        ("delete", location, None),
    ]:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            resp = getattr(client, method)(path, json=body, headers=headers)
            assert_error(resp, 401)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(location, headers=good).status_code == 200
    assert (
        client.post(f"{location}/actions", json={"action": "run"}, headers=good).status_code == 201
    )
    assert client.delete(location, headers=good).status_code == 204


def test_openapi_documents_schedules(client):
    spec = client.get("/tasky/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert set(paths[f"{BASE}/"]) == {"get"}
    assert {"get", "patch", "put", "delete"} <= set(paths[BASE + "/{schedule_id}"])
    actions = paths[BASE + "/{schedule_id}/actions"]["post"]
    assert {"200", "201"} <= set(actions["responses"])
    assert "Location" in actions["responses"]["201"]["headers"]

    schemas = spec["components"]["schemas"]
    submit_props = schemas["Submit"]["properties"]
    assert {"cron", "interval", "timezone", "start_at", "end_at", "overlap", "misfire"} <= set(
        submit_props
    )
    assert submit_props["start_at"]["format"] == "date-time"
    assert submit_props["overlap"]["enum"] == ["skip", "allow"]
    assert set(schemas["Schedule"]["properties"]) == SCHEDULE_FIELDS
    assert set(schemas["ScheduleSubmitted"]["properties"]) == SUBMITTED_FIELDS
    assert "cron" not in schemas["BatchItem"]["properties"]

    created = paths["/tasky/v1/workers/{name}"]["post"]["responses"]["201"]
    one_of = created["content"]["application/json"]["schema"]["oneOf"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in one_of} == {"Submitted", "ScheduleSubmitted"}


def test_a_task_submit_still_answers_as_a_task(client):
    """The submit route answers the task shape when there is no cron or interval."""
    answer = submit(client, "echo", delay=5)
    assert set(answer) == {"task_id", "worker", "status", "execute_at", "created_at"}


# -- the interval floor (TASKY_MIN_INTERVAL) --------------------------------------------------


@pytest.mark.parametrize("interval", [1e-9, 0.001, 0.999])
def test_an_interval_below_the_floor_is_422_naming_the_floor(client, interval):
    resp = client.post("/tasky/v1/workers/echo", json={"interval": interval})
    body = assert_error(resp, 422)
    assert "at least 1 s" in body["message"] and "TASKY_MIN_INTERVAL" in body["message"]
    assert set(body["errors"]) == {"interval"}
    assert client.get(f"{BASE}/").get_json()["schedules"] == []


def test_an_interval_at_the_floor_is_accepted(client):
    assert get(client, create(client, interval=1)["schedule_id"])["interval"] == 1.0


def test_the_floor_is_the_setting(make_app):
    client = make_app(min_interval=30.0).test_client()
    body = assert_error(client.post("/tasky/v1/workers/echo", json={"interval": 29}), 422)
    assert "at least 30 s" in body["message"]
    assert client.post("/tasky/v1/workers/echo", json={"interval": 30}).status_code == 201


def test_patching_an_interval_below_the_floor_is_422_and_changes_nothing(client):
    schedule_id = create(client, interval=60)["schedule_id"]
    before = get(client, schedule_id)
    resp = client.patch(f"{BASE}/{schedule_id}", json={"interval": 1e-9})
    assert "at least 1 s" in assert_error(resp, 422)["message"]
    assert get(client, schedule_id) == before


def test_patching_a_cron_schedule_to_a_tiny_interval_is_422(client):
    schedule_id = create(client, cron="* * * * *")["schedule_id"]
    resp = client.patch(f"{BASE}/{schedule_id}", json={"interval": 0.01})
    assert set(assert_error(resp, 422)["errors"]) == {"interval"}
    assert get(client, schedule_id)["cron"] == "* * * * *"
