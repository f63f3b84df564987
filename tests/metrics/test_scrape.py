"""``GET /metrics`` of an app built by the factory (an API node: its runner is elsewhere),
read with prometheus_client's parser: names and types that lint, requests counted by route,
the store's gauges, the token."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasky import create_app
from tasky.config import Settings
from tasky.metrics.exposition import StoreGauges
from tests.metrics.helpers import families, value

pytestmark = pytest.mark.timeout(60)

SUBMIT = "/tasky/v1/workers/echo"
NAME = re.compile(r"^tasky_[a-z][a-z0-9_]*$")
FORBIDDEN_LABELS = {"id", "task_id", "schedule_id", "config", "path", "url"}
TIME_WORDS = ("duration", "lateness", "latency", "age")
EXPECTED = {
    "tasky_tasks_submitted": "counter",
    "tasky_tasks_finished": "counter",
    "tasky_task_retries": "counter",
    "tasky_task_recoveries": "counter",
    "tasky_attempt_duration_seconds": "histogram",
    "tasky_start_lateness_seconds": "histogram",
    "tasky_schedule_ticks": "counter",
    "tasky_schedule_misfires": "counter",
    "tasky_schedule_overlap_skips": "counter",
    "tasky_runner_slots": "gauge",
    "tasky_runner_slots_busy": "gauge",
    "tasky_http_requests": "counter",
    "tasky_tasks_waiting": "gauge",
    "tasky_tasks_running": "gauge",
}


@pytest.fixture
def make_app(tmp_path):
    def make(**overrides):
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/tasks-{len(overrides)}.db",
            files_root=str(tmp_path / "files"),
            runner="off",
            **overrides,
        )
        app = create_app(settings)
        app.config["TESTING"] = True
        return app

    return make


@pytest.fixture
def client(make_app):
    return make_app().test_client()


def scrape(client, **headers) -> str:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_data(as_text=True)


def test_scrape_is_prometheus_text_whose_names_and_types_lint(client):
    client.post(SUBMIT, json={"delay": 60})
    resp = client.get("/metrics")
    assert resp.content_type.startswith("text/plain; version=0.0.4")
    found = families(resp.get_data(as_text=True))
    ours = {name: family for name, family in found.items() if name.startswith("tasky_")}
    assert {name: ours[name].type for name in EXPECTED if name in ours} == {
        name: kind for name, kind in EXPECTED.items() if name in ours
    }
    assert {"tasky_tasks_submitted", "tasky_http_requests", "tasky_tasks_waiting"} <= set(ours)
    for name, family in ours.items():
        assert NAME.match(name), name
        assert family.documentation, name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), name
        else:
            assert not name.endswith("_total"), name
        if family.type == "histogram" or any(word in name for word in TIME_WORDS):
            assert name.endswith("_seconds"), name
        for sample in family.samples:
            assert not set(sample.labels) & FORBIDDEN_LABELS, (name, sample.labels)


def test_every_metric_is_declared_with_the_expected_type():
    from tasky.metrics import instruments

    declared = {
        metric._name: metric._type
        for metric in vars(instruments).values()
        if hasattr(metric, "_name") and hasattr(metric, "_type")
    }
    store_side = {"tasky_tasks_waiting", "tasky_tasks_running"}
    assert declared == {k: v for k, v in EXPECTED.items() if k not in store_side}


def test_openmetrics_when_the_scraper_asks_for_it(client):
    resp = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert resp.content_type.startswith("application/openmetrics-text")
    assert resp.get_data(as_text=True).rstrip().endswith("# EOF")


def test_requests_are_counted_by_route_method_and_code_not_by_path(client):
    route = "/tasky/v1/tasks/<task_id>"
    before = scrape(client)
    ids = [client.post(SUBMIT, json={}).get_json()["task_id"] for _ in range(2)]
    for task_id in ids:
        assert client.get(f"/tasky/v1/tasks/{task_id}").status_code == 200
    assert client.get("/tasky/v1/tasks/nope").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)

    def delta(**labels):
        name = "tasky_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(route=route, method="GET", code="200") == 2
    assert delta(route=route, method="GET", code="404") == 1
    assert delta(route="/tasky/v1/workers/<name>", method="POST", code="201") == 2
    assert delta(route="unmatched", code="404") == 1
    assert delta(route="/metrics", code="200") == 1  # the first scrape
    routes = {
        s.labels["route"]
        for f in text_string_to_metric_families(after)
        for s in f.samples
        if s.name == "tasky_http_requests_total"
    }
    assert not any(task_id in r for r in routes for task_id in ids)


def test_submits_and_cancels_are_counted(client):
    before = scrape(client)
    ids = [client.post(SUBMIT, json={"delay": 600}).get_json()["task_id"] for _ in range(3)]
    again = {"delay": 600, "idempotency_key": "metrics-once"}
    assert client.post(SUBMIT, json=again).status_code == 201
    assert client.post(SUBMIT, json=again).status_code == 200  # creates nothing
    assert client.post(f"/tasky/v1/tasks/{ids[0]}/cancel").status_code == 200
    after = scrape(client)
    submitted = "tasky_tasks_submitted_total"
    finished = "tasky_tasks_finished_total"
    assert value(after, submitted, worker="echo") - value(before, submitted, worker="echo") == 4
    canceled = {"worker": "echo", "status": "canceled"}
    assert value(after, finished, **canceled) - value(before, finished, **canceled) == 1


def test_store_gauges_count_waiting_tasks_by_state(client):
    ids = [client.post(SUBMIT, json={"delay": 600}).get_json()["task_id"] for _ in range(3)]
    client.post(SUBMIT, json={})  # due now, no runner here: queued
    client.post(f"/tasky/v1/tasks/{ids[0]}/actions", json={"action": "pause"})
    text = scrape(client)
    waiting = "tasky_tasks_waiting"
    assert value(text, waiting, worker="echo", state="scheduled") == 2
    assert value(text, waiting, worker="echo", state="paused") == 1
    assert value(text, waiting, worker="echo", state="queued") == 1
    assert value(text, "tasky_tasks_running", worker="echo") == 0


def test_store_gauges_can_be_turned_off(make_app):
    client = make_app(metrics_store_gauges=False).test_client()
    client.post(SUBMIT, json={"delay": 600})
    assert "tasky_tasks_waiting" not in families(scrape(client))


def test_store_gauges_cost_one_query_per_period_whatever_the_scrapers(tmp_path):
    """Two collectors on one cache file, as two processes of one service."""
    queries = []

    def counts():
        queries.append(1)
        return [("echo", "scheduled", len(queries))]

    now = [1000.0]
    cache = tmp_path / "gauges.json"
    first, second = (StoreGauges(counts, cache, ttl=5.0, clock=lambda: now[0]) for _ in "ab")
    read = lambda gauges: [s.value for f in gauges.collect() for s in f.samples]  # noqa: E731
    assert read(first) == [1]
    now[0] += 4.9
    assert read(second) == [1] and read(first) == [1]
    assert len(queries) == 1
    now[0] += 0.2
    assert read(second) == [2]
    assert len(queries) == 2


def test_a_store_that_fails_leaves_its_gauges_out_of_the_scrape(tmp_path):
    def broken():
        raise OSError("database is locked")

    assert list(StoreGauges(broken, tmp_path / "gauges.json").collect()) == []


def test_metrics_need_the_token(make_app):
    client = make_app(api_token="s3cret").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
