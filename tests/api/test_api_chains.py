"""``/tasky/v1/chains``: submitting, reading, canceling, retrying, drawing, deleting."""

from __future__ import annotations

import pytest

from tasky.models import TaskState
from tests.api.api_helpers import OWNER, assert_error, finish

pytestmark = pytest.mark.timeout(60)

CHAINS = "/tasky/v1/chains"


def step(name, worker="echo", depends_on=(), **body):
    body.setdefault("config", {"message": name} if worker == "echo" else {"who": name})
    return {"step": name, "worker": worker, "depends_on": list(depends_on), **body}


def post_chain(client, *steps, **body):
    resp = client.post(CHAINS, json={"steps": list(steps), **body})
    assert resp.status_code == 201, resp.get_json()
    return resp


def chain(client, chain_id):
    resp = client.get(f"{CHAINS}/{chain_id}")
    assert resp.status_code == 200
    return resp.get_json()


def states(client, chain_id):
    return {s["step"]: s["status"] for s in chain(client, chain_id)["steps"]}


def run_step(store, clock, task_id, status=TaskState.COMPLETED, output=None):
    """Claim the due tasks of the step's worker (unless it runs already) and end the step."""
    task = store.get_task(task_id)
    if task.status is not TaskState.RUNNING:
        now = clock()
        store.claim(task.worker, OWNER, 100, now, now, now + 30)
    return finish(store, clock, store.get_task(task_id), status, output=output)


DIAMOND = (
    step("fetch"),
    step("left", depends_on=["fetch"]),
    step("right", depends_on=["fetch"]),
    step("join", depends_on=["left", "right"]),
)


def test_a_chain_is_stored_whole_with_a_location(client):
    resp = post_chain(client, *DIAMOND, name="nightly")
    body = resp.get_json()
    assert resp.headers["Location"].endswith(f"{CHAINS}/{body['chain_id']}")
    assert set(body["steps"]) == {"fetch", "left", "right", "join"}
    assert (body["name"], body["status"]) == ("nightly", "running")
    got = chain(client, body["chain_id"])
    assert got["counts"] == {"queued": 1, "blocked": 3}
    assert got["failure_policy"] == "continue"
    join = next(s for s in got["steps"] if s["step"] == "join")
    assert join["depends_on"] == ["left", "right"]
    assert join["task_id"] == body["steps"]["join"]
    listed = client.get(f"/tasky/v1/tasks/?chain_id={body['chain_id']}").get_json()["tasks"]
    assert {t["task_id"] for t in listed} == set(body["steps"].values())


def test_a_sequence_runs_in_order_and_completes(client, store, clock):
    body = post_chain(client, *DIAMOND).get_json()
    ids = body["steps"]
    for name in ("fetch", "left", "right", "join"):
        assert states(client, body["chain_id"])[name] in ("queued", "running")
        run_step(store, clock, ids[name])
    got = chain(client, body["chain_id"])
    assert got["status"] == "completed"
    assert got["counts"] == {"completed": 4}


def test_outputs_flow_to_a_child_by_reference(client, store, clock):
    ref = {"$from": "fetch", "path": "/output/name"}
    body = post_chain(
        client, step("fetch"), step("greet", "greeter", ["fetch"], config={"who": ref})
    ).get_json()
    run_step(store, clock, body["steps"]["fetch"], output={"name": "Ada"})
    greet = client.get(f"/tasky/v1/tasks/{body['steps']['greet']}").get_json()
    assert greet["config"] == {"who": "Ada"}
    assert (greet["chain_id"], greet["step"]) == (body["chain_id"], "greet")


def test_a_failure_skips_what_needs_it_and_runs_the_alert_and_cleanup(client, store, clock):
    body = post_chain(
        client,
        step("work"),
        step("other"),
        step("report", depends_on=["work"]),
        step("alert", depends_on=["work"], run_if="any_failed"),
        step("cleanup", depends_on=["work", "other"], run_if="all_done"),
    ).get_json()
    ids = body["steps"]
    run_step(store, clock, ids["work"], TaskState.FAILED)
    got = states(client, body["chain_id"])
    assert (got["report"], got["alert"], got["cleanup"]) == ("skipped", "queued", "blocked")
    report = next(s for s in chain(client, body["chain_id"])["steps"] if s["step"] == "report")
    assert report["skip_reason"] == f"upstream failed: {ids['work']}"
    run_step(store, clock, ids["other"])
    run_step(store, clock, ids["alert"])
    run_step(store, clock, ids["cleanup"])
    assert chain(client, body["chain_id"])["status"] == "failed"


def test_cancel_all_cancels_every_unfinished_step_on_the_first_failure(client, store, clock):
    body = post_chain(
        client,
        step("a"),
        step("b", "sleeper", config={"seconds": 30}),
        step("c", depends_on=["b"]),
        failure_policy="cancel_all",
    ).get_json()
    ids = body["steps"]
    now = clock()
    (running_b,) = store.claim("sleeper", OWNER, 1, now, now, now + 30)
    run_step(store, clock, ids["a"], TaskState.FAILED)
    assert states(client, body["chain_id"]) == {"a": "failed", "b": "canceling", "c": "canceled"}
    finish(store, clock, running_b)  # the worker stops: its outcome is a cancel's
    got = chain(client, body["chain_id"])
    assert (got["status"], states(client, body["chain_id"])["b"]) == ("failed", "canceled")


def test_cancel_of_a_chain_mid_run(client, store, clock):
    body = post_chain(
        client, step("a", "sleeper", config={"seconds": 30}), step("b", depends_on=["a"])
    ).get_json()
    now = clock()
    (running,) = store.claim("sleeper", OWNER, 1, now, now, now + 30)
    resp = client.post(f"{CHAINS}/{body['chain_id']}/cancel")
    assert resp.status_code == 202
    assert resp.get_json()["status"] == "canceling"
    assert states(client, body["chain_id"]) == {"a": "canceling", "b": "canceled"}
    finish(store, clock, running)  # reported completed by its worker: stored canceled
    got = chain(client, body["chain_id"])
    assert got["status"] == "canceled"
    assert got["counts"] == {"canceled": 2}
    again = client.post(f"{CHAINS}/{body['chain_id']}/actions", json={"action": "cancel"})
    assert again.status_code == 200


def test_retry_reruns_only_what_did_not_complete(client, store, clock):
    ref = {"$from": "a", "path": "/output/n", "default": 0}
    body = post_chain(
        client,
        step("a"),
        step("b", depends_on=["a"], config={"message": ref}),
        step("c", depends_on=["b"]),
        step("d", depends_on=["a"]),
    ).get_json()
    ids = body["steps"]
    run_step(store, clock, ids["a"], output={"n": "x"})
    run_step(store, clock, ids["d"])
    run_step(store, clock, ids["b"], TaskState.FAILED)
    assert states(client, body["chain_id"])["c"] == "skipped"
    conflict = client.post(f"{CHAINS}/{body['chain_id']}/actions", json={"action": "cancel"})
    assert conflict.status_code == 200
    resp = client.post(f"{CHAINS}/{body['chain_id']}/actions", json={"action": "retry"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "running"
    assert states(client, body["chain_id"]) == {
        "a": "completed",
        "b": "queued",
        "c": "blocked",
        "d": "completed",
    }
    b = store.get_task(ids["b"])
    assert (b.attempts, b.config) == (0, {"message": "x"})  # resolved again from a's output
    run_step(store, clock, ids["b"])
    run_step(store, clock, ids["c"])
    assert chain(client, body["chain_id"])["status"] == "completed"
    nothing = client.post(f"{CHAINS}/{body['chain_id']}/actions", json={"action": "retry"})
    assert_error(nothing, 409)


def test_retry_of_a_running_chain_is_a_conflict(client):
    body = post_chain(client, step("a")).get_json()
    resp = client.post(f"{CHAINS}/{body['chain_id']}/actions", json={"action": "retry"})
    assert_error(resp, 409)


def test_an_idempotent_submit_returns_the_first_chain(client):
    first = post_chain(client, step("a"), idempotency_key="k").get_json()
    resp = client.post(CHAINS, json={"steps": [step("a"), step("b")], "idempotency_key": "k"})
    assert resp.status_code == 200
    assert resp.get_json()["chain_id"] == first["chain_id"]
    assert resp.get_json()["steps"] == first["steps"]


@pytest.mark.parametrize(
    ("steps", "at_fault", "field"),
    [
        ([step("a", "nope")], "a", "worker"),
        ([step("a", "locked")], "a", "worker"),
        ([step("a", config={"oops": 1})], "a", "config"),
        ([step("a"), step("a")], "a", "step"),
        ([step("a", depends_on=["ghost"])], "a", "depends_on"),
        ([step("a", depends_on=["b"]), step("b", depends_on=["a"])], "a", "depends_on"),
        (
            [step("a"), step("b", config={"message": {"$from": "c"}}, depends_on=["a"])],
            "b",
            "config",
        ),
    ],
)
def test_an_invalid_chain_names_the_step_at_fault(client, steps, at_fault, field):
    resp = client.post(CHAINS, json={"steps": steps})
    errors = assert_error(resp, 422)["errors"]["steps"]
    assert field in errors[at_fault], errors
    assert client.get(f"{CHAINS}/").get_json()["chains"] == []


def test_a_cycle_is_named(client):
    steps = [step("a", depends_on=["c"]), step("b", depends_on=["a"]), step("c", depends_on=["b"])]
    resp = client.post(CHAINS, json={"steps": steps})
    (message,) = assert_error(resp, 422)["errors"]["steps"]["a"]["depends_on"]
    assert message == "A cycle: a → c → b → a"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"steps": []},
        {"steps": [{"worker": "echo"}]},
        {"steps": [step("a")], "failure_policy": "x"},
    ],
)
def test_a_malformed_chain_is_a_422(client, body):
    assert_error(client.post(CHAINS, json=body), 422)


def test_list_pages_and_filters_by_name(client, store, clock):
    ids = []
    for i in range(3):
        clock.advance(1)  # ids order by creation time
        ids.append(post_chain(client, step("a"), name=f"n{i % 2}").get_json()["chain_id"])
    page = client.get(f"{CHAINS}/?limit=2").get_json()
    assert [c["chain_id"] for c in page["chains"]] == ids[::-1][:2]
    rest = client.get(f"{CHAINS}/?limit=2&cursor={page['next_cursor']}").get_json()
    assert [c["chain_id"] for c in rest["chains"]] == [ids[0]]
    named = client.get(f"{CHAINS}/?name=n1").get_json()["chains"]
    assert [(c["chain_id"], c["status"], c["counts"]) for c in named] == [
        (ids[1], "running", {"queued": 1})
    ]


def test_the_graph_as_mermaid_and_dot(client):
    body = post_chain(client, *DIAMOND).get_json()
    mermaid = client.get(f"{CHAINS}/{body['chain_id']}/graph")
    assert mermaid.mimetype == "text/vnd.mermaid"
    text = mermaid.get_data(as_text=True)
    assert text.startswith("graph TD\n")
    assert '  s0["fetch: queued"]' in text and "  s1 --> s3" in text
    dot = client.get(f"{CHAINS}/{body['chain_id']}/graph?format=dot").get_data(as_text=True)
    assert '"left" -> "join";' in dot and dot.startswith("digraph chain {")
    assert_error(client.get(f"{CHAINS}/{body['chain_id']}/graph?format=png"), 422)


def test_delete_once_every_step_has_ended(client, store, clock):
    body = post_chain(client, step("a"), step("b", depends_on=["a"])).get_json()
    assert_error(client.delete(f"{CHAINS}/{body['chain_id']}"), 409)
    client.post(f"{CHAINS}/{body['chain_id']}/cancel")
    assert client.delete(f"{CHAINS}/{body['chain_id']}").status_code == 204
    assert_error(client.get(f"{CHAINS}/{body['chain_id']}"), 404)
    assert store.get_task(body["steps"]["a"]) is None


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("delete", ""), ("post", "/cancel"), ("get", "/graph")],
)
def test_an_unknown_chain_is_a_404(client, method, suffix):
    assert_error(getattr(client, method)(f"{CHAINS}/{'0' * 32}{suffix}"), 404)


def test_a_chain_with_an_interval_is_a_schedule_of_chain_runs(client, store):
    body = {"steps": [step("a"), step("b", depends_on=["a"])], "interval": 60, "name": "tick"}
    resp = client.post(CHAINS, json=body)
    assert resp.status_code == 201, resp.get_json()
    schedule_id = resp.get_json()["schedule_id"]
    assert resp.headers["Location"].endswith(f"/tasky/v1/schedules/{schedule_id}")
    schedule = client.get(f"/tasky/v1/schedules/{schedule_id}").get_json()
    assert (schedule["worker"], schedule["interval"]) == ("", 60.0)
    assert [s["step"] for s in schedule["chain"]["steps"]] == ["a", "b"]
    ran = client.post(f"/tasky/v1/schedules/{schedule_id}/actions", json={"action": "run"})
    assert ran.status_code == 201, ran.get_json()
    first = ran.get_json()
    assert first["step"] == "a" and first["schedule_id"] == schedule_id
    got = chain(client, first["chain_id"])
    assert (got["name"], got["counts"]) == ("tick", {"queued": 1, "blocked": 1})
    patch = client.patch(f"/tasky/v1/schedules/{schedule_id}", json={"config": {"x": 1}})
    assert "config" in assert_error(patch, 422)["errors"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"interval": 60, "idempotency_key": "k"}, "idempotency_key"),
        ({"overlap": "allow"}, "overlap"),
    ],
)
def test_schedule_fields_of_a_chain_need_a_trigger_and_no_key(client, extra, field):
    resp = client.post(CHAINS, json={"steps": [step("a")], **extra})
    assert field in assert_error(resp, 422)["errors"]
