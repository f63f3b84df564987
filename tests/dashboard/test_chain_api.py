"""What the chain page reads, on a real SQLite store: a chain's ``layers`` (the topological
layers it is drawn in, in drawing order) beside its steps, and the pages that need no token."""

from __future__ import annotations

import pytest

from tasky.config import Settings
from tasky.factory import create_app

CHAINS = "/tasky/v1/chains"


@pytest.fixture
def app(tmp_path):
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", runner="off", api_token="sesame")
    )
    yield app
    app.extensions["tasky"].store.close()


@pytest.fixture
def client(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer sesame"
    return client


def step(name, *depends_on, **body):
    return {"step": name, "worker": "echo", "depends_on": list(depends_on), **body}


def submitted(client, *steps):
    resp = client.post(CHAINS, json={"steps": list(steps)})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def layers(client, *steps):
    body = submitted(client, *steps)
    return client.get(f"{CHAINS}/{body['chain_id']}").get_json()["layers"]


def test_a_step_is_one_layer_after_its_deepest_parent(client):
    got = layers(
        client,
        step("fetch"),
        step("left", "fetch"),
        step("right", "fetch"),
        step("deep", "left"),
        step("join", "fetch", "deep", "right", run_if="all_done"),
    )
    assert got == [["fetch"], ["left", "right"], ["deep"], ["join"]]


def test_within_a_layer_steps_follow_their_parents_so_edges_do_not_cross(client):
    # submitted crosswise: the children of "b" first
    got = layers(
        client, step("a"), step("b"), step("b1", "b"), step("a1", "a"), step("ab", "b", "a")
    )
    assert got == [["a", "b"], ["a1", "ab", "b1"]]


def test_independent_steps_share_the_first_layer_in_the_chains_order(client):
    assert layers(client, step("z"), step("y"), step("x")) == [["z", "y", "x"]]


def test_every_step_is_in_exactly_one_layer_of_a_200_step_chain(client):
    steps = [step("s0")]
    steps += [step(f"s{i}", f"s{i - 1}", *([f"s{i // 2}"] if i > 2 else [])) for i in range(1, 200)]
    got = layers(client, *steps)
    placed = [name for layer in got for name in layer]
    assert sorted(placed) == sorted(s["step"] for s in steps)
    depth = {name: i for i, layer in enumerate(got) for name in layer}
    for s in steps:
        for parent in s["depends_on"]:
            assert depth[parent] < depth[s["step"]]
    assert len(got) == 200  # a sequence: one step per layer


def test_a_parent_gone_from_the_store_is_left_out_of_the_layers(client, app):
    body = submitted(client, step("a"), step("b", "a", run_if="all_done"))
    client.post(f"/tasky/v1/tasks/{body['steps']['a']}/cancel")
    assert client.delete(f"/tasky/v1/tasks/{body['steps']['a']}").status_code == 204
    got = client.get(f"{CHAINS}/{body['chain_id']}").get_json()
    assert got["layers"] == [["b"]]
    assert [s["step"] for s in got["steps"]] == ["b"]


def test_the_chain_pages_need_no_token_and_carry_the_csp(app):
    client = app.test_client()  # no token
    for path in ("/chains", f"/chains/{'0' * 32}"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    page = client.get("/chains/abc").get_data(as_text=True)
    assert 'data-chain-id="abc"' in page and 'aria-current="page">Chains<' in page
    assert client.get(f"{CHAINS}/").status_code == 401  # the data still needs it
