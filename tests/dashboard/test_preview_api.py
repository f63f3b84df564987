"""``GET /tasky/v1/schedules/preview``: fire times from the server's own trigger code."""

from __future__ import annotations

import pytest

from tasky.config import Settings
from tasky.factory import create_app

PREVIEW = "/tasky/v1/schedules/preview"


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", runner="off"))
    yield app.test_client()
    app.extensions["tasky"].store.close()


def fire_times(client, **query):
    resp = client.get(PREVIEW, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_cron_across_the_spring_gap_in_berlin(client):
    body = fire_times(
        client, cron="30 2 * * *", timezone="Europe/Berlin", start_at="2027-03-26T12:00:00Z"
    )
    assert body["timezone"] == "Europe/Berlin"
    assert len(body["fire_times"]) == 10
    assert [t["local"] for t in body["fire_times"][:3]] == [
        "2027-03-27T02:30:00+01:00",
        "2027-03-28T03:00:00+02:00",  # 02:30 does not exist that day: the gap's end
        "2027-03-29T02:30:00+02:00",
    ]
    assert body["fire_times"][1]["at"] == "2027-03-28T01:00:00.000000Z"


def test_interval_from_start_at_with_a_count_and_an_end(client):
    body = fire_times(
        client,
        interval="90",
        start_at="2030-01-01T00:00:00Z",
        end_at="2030-01-01T00:04:00Z",
        count="5",
    )
    assert [t["at"] for t in body["fire_times"]] == [
        "2030-01-01T00:00:00.000000Z",
        "2030-01-01T00:01:30.000000Z",
        "2030-01-01T00:03:00.000000Z",
    ]


def test_a_stored_schedule_with_a_changed_trigger(client):
    created = client.post(
        "/tasky/v1/workers/echo",
        json={"cron": "0 9 * * *", "timezone": "UTC", "start_at": "2030-06-01T00:00:00Z"},
    ).get_json()
    body = fire_times(client, schedule_id=created["schedule_id"], count="2")
    assert [t["at"] for t in body["fire_times"]] == [
        "2030-06-01T09:00:00.000000Z",
        "2030-06-02T09:00:00.000000Z",
    ]
    changed = fire_times(client, schedule_id=created["schedule_id"], cron="0 18 * * *", count="1")
    assert changed["fire_times"][0]["at"] == "2030-06-01T18:00:00.000000Z"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "* * * * *", "interval": "5"}, "cron"),
        ({"interval": "0"}, "interval"),
        ({}, "cron"),
        ({"cron": "* * * * *", "count": "1000"}, "count"),
    ],
)
def test_bad_triggers_are_422_naming_the_field(client, query, field):
    resp = client.get(PREVIEW, query_string=query)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]


def test_unknown_schedule_is_404(client):
    assert client.get(PREVIEW, query_string={"schedule_id": "nope"}).status_code == 404


def test_the_preview_is_in_openapi(client):
    spec = client.get("/tasky/v1/openapi.json").get_json()
    assert "/tasky/v1/schedules/preview" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/tasky/v1/schedules/preview"]["get"]["parameters"]}
    assert {"cron", "interval", "timezone", "start_at", "count"} <= params


def test_parameters_describe_bounds_and_choices(client):
    workers = {w["name"]: w for w in client.get("/tasky/v1/workers/").get_json()}
    seconds = workers["sleeper"]["parameters"]["seconds"]
    assert (seconds["min"], seconds["max"]) == (0, 86400)
    assert workers["http"]["parameters"]["method"]["choices"][0] == "GET"
    assert "choices" not in workers["http"]["parameters"]["url"]
