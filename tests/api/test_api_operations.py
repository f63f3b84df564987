"""``/tasky/v1/health``'s runner field and ``/tasky/v1/runners``."""

from __future__ import annotations

import pytest

from tasky.models import RUNNER_GONE_AFTER, RunnerInfo, RunnerStatus
from tasky.runner.api_only import ApiOnly
from tests.api.api_helpers import assert_error, assert_z_time

TOKEN = "s3cret-token"


def engine_reporting(status: RunnerStatus):
    """An engine that stores what it is given (``ApiOnly``) and reports ``status``."""

    class Reporting(ApiOnly):
        def status(self) -> RunnerStatus:
            return status

    return Reporting


def test_health_says_the_runner_is_off_on_an_api_only_server(client):
    assert client.get("/tasky/v1/health").get_json()["runner"] == "off"


def test_health_says_the_runner_is_running(make_app):
    client = make_app(engine=engine_reporting(RunnerStatus("running"))).test_client()
    resp = client.get("/tasky/v1/health")
    assert resp.status_code == 200
    assert resp.get_json()["runner"] == "running"


def test_health_is_503_with_the_reason_when_the_runner_is_down(make_app):
    down = RunnerStatus("down", "the runner process exited with status 1")
    client = make_app(engine=engine_reporting(down), api_token=TOKEN).test_client()
    body = assert_error(client.get("/tasky/v1/health"), 503)  # and needs no token
    assert "the runner process exited with status 1" in body["message"]


def test_the_openapi_document_lists_health_runner_values(client):
    schema = client.get("/tasky/v1/openapi.json").get_json()["components"]["schemas"]["Health"]
    assert schema["properties"]["runner"]["enum"] == ["running", "off"]


def heartbeat(runner_id: str, heartbeat_at: float, **kw) -> RunnerInfo:
    values = {
        "host": "host-a",
        "pid": 41,
        "started_at": heartbeat_at - 100,
        "workers": ["echo", "sleeper"],
        "running": {"sleeper": 2},
    } | kw
    return RunnerInfo(id=runner_id, heartbeat_at=heartbeat_at, **values)


def test_runners_lists_live_and_gone_runners(client, store, clock):
    store.record_heartbeat(heartbeat("host-a:41:x", clock.now - 1))
    store.record_heartbeat(
        heartbeat("host-b:7:y", clock.now - RUNNER_GONE_AFTER - 1, host="host-b", pid=7, running={})
    )
    resp = client.get("/tasky/v1/runners")
    assert resp.status_code == 200
    runners = resp.get_json()["runners"]
    assert [(r["runner_id"], r["status"]) for r in runners] == [
        ("host-a:41:x", "live"),
        ("host-b:7:y", "gone"),
    ]
    live = runners[0]
    assert set(live) == {
        "runner_id",
        "host",
        "pid",
        "started_at",
        "heartbeat_at",
        "status",
        "workers",
        "running",
    }
    assert (live["host"], live["pid"]) == ("host-a", 41)
    assert live["workers"] == ["echo", "sleeper"]
    assert live["running"] == {"sleeper": 2}
    assert_z_time(live["started_at"])
    assert_z_time(live["heartbeat_at"])


def test_a_runner_is_gone_only_after_the_documented_silence(client, store, clock):
    store.record_heartbeat(heartbeat("host-a:41:x", clock.now - RUNNER_GONE_AFTER))
    assert client.get("/tasky/v1/runners").get_json()["runners"][0]["status"] == "live"
    clock.advance(0.5)
    assert client.get("/tasky/v1/runners").get_json()["runners"][0]["status"] == "gone"


def test_no_runner_is_an_empty_list(client):
    assert client.get("/tasky/v1/runners").get_json() == {"runners": []}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_runners_needs_the_token(make_app, headers):
    client = make_app(api_token=TOKEN).test_client()
    assert_error(client.get("/tasky/v1/runners", headers=headers), 401)
    ok = client.get("/tasky/v1/runners", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
