"""Chains and dependencies on real servers: several processes, crashes, one SQLite file.

Most tests share one server of two processes (``server``), each looking at its own chains'
tasks only; a test that needs more processes or a crash starts its own, first (the shared
server starts after those are gone)."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TERMINAL = ("completed", "failed", "canceled", "skipped")


def step(name, depends_on=(), **config):
    return {"step": name, "worker": "journal", "depends_on": list(depends_on), "config": config}


def submit_chain(server, *steps, **body):
    resp = server.post("/tasky/v1/chains", {"steps": list(steps), **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def chain(server, chain_id):
    return server.get(f"/tasky/v1/chains/{chain_id}").json()


def wait_chain(server, chain_id, timeout=30):
    return wait_for(
        lambda: (
            (c := chain(server, chain_id))["status"] in ("completed", "failed", "canceled") and c
        ),
        timeout=timeout,
    )


def steps_of(view):
    return {s["step"]: s for s in view["steps"]}


def task(server, task_id):
    return server.get(f"/tasky/v1/tasks/{task_id}").json()


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory(processes=2, env={"TASKY_ENABLE_BASH": "1"})


def test_fan_in_of_50_parents_across_4_processes_releases_the_child_once(server_factory):
    server = server_factory(processes=4)
    parents = server.post(
        "/tasky/v1/workers/journal/batch", {"tasks": [{"config": {"sleep": 0.3}}] * 50}
    ).json()["task_ids"]
    child = server.submit("journal", {"depends_on": parents})
    assert server.wait_finished(child)["status"] == "completed"
    runs = server.runs()
    assert set(runs) == {*parents, child} and max(runs.values()) == 1
    pids = {line.split()[1] for line in server.journal.read_text().splitlines()}
    assert len(pids) > 1, "the parents did not end in several processes"


def test_kill_9_between_a_parents_end_and_its_childs_claim(server_factory, tmp_path):
    server = server_factory()
    parent = server.submit("journal")
    child = server.submit("journal", {"depends_on": [parent], "delay": 4})
    assert server.wait_finished(parent)["status"] == "completed"
    assert server.status(child) == "scheduled"  # released, not yet claimed
    server.kill9()
    again = server_factory(data=tmp_path)
    assert again.wait_finished(child, timeout=20)["status"] == "completed"
    assert again.runs()[child] == 1


def test_a_sequence_runs_in_order(server):
    body = submit_chain(server, step("a"), step("b", ["a"]), step("c", ["b"]))
    assert wait_chain(server, body["chain_id"])["status"] == "completed"
    a, b, c = (task(server, body["steps"][n]) for n in "abc")
    assert a["finished_at"] <= b["started_at"] and b["finished_at"] <= c["started_at"]
    assert server.runs(of=body["steps"].values()) == dict.fromkeys(body["steps"].values(), 1)


def test_fan_out_then_fan_in(server):
    fan = [step(f"f{i}", ["root"]) for i in range(100)]
    body = submit_chain(server, step("root"), *fan, step("join", [s["step"] for s in fan]))
    view = wait_chain(server, body["chain_id"], timeout=60)
    assert view["status"] == "completed" and view["counts"] == {"completed": 102}
    runs = server.runs(of=body["steps"].values())
    assert len(runs) == 102 and max(runs.values()) == 1


def test_a_failure_runs_the_alert_and_the_cleanup_and_skips_the_rest(server):
    body = submit_chain(
        server,
        step("work", fail=True),
        step("report", ["work"]),
        {**step("alert", ["work"]), "run_if": "any_failed"},
        {**step("cleanup", ["work", "report"]), "run_if": "all_done"},
        {**step("quiet", ["cleanup"]), "run_if": "any_failed"},
    )
    view = wait_chain(server, body["chain_id"])
    got = {name: s["status"] for name, s in steps_of(view).items()}
    assert got == {
        "work": "failed",
        "report": "skipped",
        "alert": "completed",
        "cleanup": "completed",
        "quiet": "skipped",
    }
    assert view["status"] == "failed"
    assert steps_of(view)["report"]["skip_reason"] == f"upstream failed: {body['steps']['work']}"


def test_cancel_all_stops_the_other_branches(server):
    body = submit_chain(
        server,
        step("slow", sleep=60),
        step("after", ["slow"]),
        step("bad", sleep=0.3, fail=True),
        failure_policy="cancel_all",
    )
    view = wait_chain(server, body["chain_id"], timeout=10)
    got = {name: s["status"] for name, s in steps_of(view).items()}
    assert got == {"slow": "canceled", "after": "canceled", "bad": "failed"}


def test_cancel_mid_run_no_step_completes_after_the_answer(server):
    body = submit_chain(
        server,
        step("a", sleep=60),
        step("b", sleep=60),
        step("c", ["a"]),
        {**step("d", ["a", "b"]), "run_if": "all_done"},
    )
    ids = body["steps"]
    wait_for(lambda: task(server, ids["a"])["status"] == "running")
    wait_for(lambda: task(server, ids["b"])["status"] == "running")
    resp = server.post(f"/tasky/v1/chains/{body['chain_id']}/cancel")
    assert resp.status_code == 202 and resp.json()["status"] == "canceling"
    started = time.monotonic()
    view = wait_chain(server, body["chain_id"], timeout=5)
    assert time.monotonic() - started < 1.5
    assert view["status"] == "canceled"
    assert {s["status"] for s in view["steps"]} == {"canceled"}
    time.sleep(0.5)  # nothing released after the cancel may run: d (all_done) included
    assert set(server.runs(of=ids.values())) == {ids["a"], ids["b"]}


def test_retry_reruns_the_failed_steps_and_their_dependents(server, tmp_path):
    flag = tmp_path / "fail-once"
    flag.touch()
    bash = {"step": "flaky", "worker": "bash", "config": {"command": f"! rm {flag}"}}
    body = submit_chain(server, step("a"), {**bash, "depends_on": ["a"]}, step("z", ["flaky"]))
    assert wait_chain(server, body["chain_id"])["status"] == "failed"
    resp = server.post(f"/tasky/v1/chains/{body['chain_id']}/actions", {"action": "retry"})
    assert resp.status_code == 200, resp.text
    view = wait_chain(server, body["chain_id"])
    assert view["status"] == "completed"
    runs = server.runs()
    assert runs[body["steps"]["a"]] == 1 and runs[body["steps"]["z"]] == 1


def test_outputs_flow_into_config_and_tasky_inputs(server):
    body = submit_chain(
        server,
        step("make", value={"rows": [3, 4], "name": "$(touch /tmp/never)"}),
        step("use", ["make"], value={"$from": "make", "path": "/output/value/rows/1"}),
        {
            "step": "shell",
            "worker": "bash",
            "depends_on": ["make"],
            "config": {"command": 'printf %s "$TASKY_INPUTS"'},
        },
    )
    assert wait_chain(server, body["chain_id"])["status"] == "completed"
    use = server.get(f"/tasky/v1/tasks/{body['steps']['use']}/result").json()["output"]
    assert use["value"] == 4
    assert task(server, body["steps"]["use"])["config"]["value"] == 4
    stdout = server.get(f"/tasky/v1/tasks/{body['steps']['shell']}/result").json()["output"]
    inputs = json.loads(stdout["stdout"])
    assert inputs["make"]["status"] == "completed"
    assert inputs["make"]["output"]["value"]["name"] == "$(touch /tmp/never)"


def test_an_idempotent_chain_and_a_cycle(server):
    first = submit_chain(server, step("a"), idempotency_key="nightly-1")
    again = server.post("/tasky/v1/chains", {"steps": [step("a")], "idempotency_key": "nightly-1"})
    assert again.status_code == 200 and again.json()["chain_id"] == first["chain_id"]
    cycle = server.post("/tasky/v1/chains", {"steps": [step("a", ["b"]), step("b", ["a"])]})
    assert cycle.status_code == 422
    assert "cycle" in cycle.json()["errors"]["steps"]["a"]["depends_on"][0].lower()


def test_a_chain_schedule_stores_one_chain_per_tick(server):
    body = {"steps": [step("a"), step("b", ["a"])], "interval": 1, "overlap": "allow"}
    resp = server.post("/tasky/v1/chains", body)
    assert resp.status_code == 201, resp.text
    schedule_id = resp.json()["schedule_id"]

    def completed_runs():
        tasks = server.get(f"/tasky/v1/tasks/?schedule_id={schedule_id}").json()["tasks"]
        chains = {t["task_id"]: t for t in tasks}
        done = [t for t in chains.values() if t["status"] == "completed"]
        return len(done) >= 4 and done

    wait_for(completed_runs, timeout=20)
    server.post(f"/tasky/v1/schedules/{schedule_id}/actions", {"action": "pause"})
    tasks = server.get(f"/tasky/v1/tasks/?schedule_id={schedule_id}").json()["tasks"]
    records = [task(server, t["task_id"]) for t in tasks]
    by_chain: dict[str, set[str]] = {}
    for record in records:
        by_chain.setdefault(record["chain_id"], set()).add(record["step"])
    assert len(by_chain) >= 2 and all(steps == {"a", "b"} for steps in by_chain.values())
    assert set(server.runs(of=[t["task_id"] for t in tasks]).values()) == {1}
