"""``tasky chain …`` and the client's chain methods against a real gunicorn server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tasky.cli import cli
from tasky.client import Client, ValidationFailed
from tests.support import wait_for

pytestmark = pytest.mark.e2e

CHAIN = {
    "name": "cli",
    "steps": [
        {"step": "a", "worker": "echo", "config": {"message": "a"}},
        {"step": "b", "worker": "echo", "config": {"message": "b"}, "depends_on": ["a"]},
    ],
}


@pytest.fixture
def tasky(server, monkeypatch):
    monkeypatch.delenv("TASKY_API_TOKEN", raising=False)
    monkeypatch.setenv("TASKY_URL", server.url)
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None):
        result = runner.invoke(cli, list(args), input=stdin)
        assert result.exit_code == code, (result.output, result.stderr, result.exception)
        return result

    return run


def test_submit_show_graph_and_rm_from_a_file(tasky, tmp_path):
    spec = tmp_path / "chain.json"
    spec.write_text(json.dumps(CHAIN))
    chain_id = tasky("chain", "submit", str(spec), "-q").stdout.strip()
    assert len(chain_id) == 32
    wait_for(
        lambda: (
            json.loads(tasky("chain", "show", chain_id, "--json").stdout)["status"] == "completed"
        )
    )
    table = tasky("chain", "show", chain_id).stdout
    assert "status\tcompleted" in table and "\nSTEP\tTASK_ID" in table
    assert tasky("chain", "ls", "--name", "cli", "-q").stdout.split() == [chain_id]
    assert tasky("chain", "graph", chain_id).stdout.startswith("graph TD\n")
    assert '"a" -> "b";' in tasky("chain", "graph", chain_id, "--format", "dot").stdout
    tasky("chain", "rm", chain_id)
    tasky("chain", "show", chain_id, code=3)


def test_submit_from_stdin_cancel_and_retry(tasky):
    body = {"steps": [{"step": "s", "worker": "sleeper", "config": {"seconds": 30}}]}
    chain_id = tasky("chain", "submit", "-", "-q", stdin=json.dumps(body)).stdout.strip()
    canceled = json.loads(tasky("chain", "cancel", chain_id, "--json").stdout)
    assert canceled["status"] in ("canceling", "canceled")
    wait_for(
        lambda: (
            json.loads(tasky("chain", "show", chain_id, "--json").stdout)["status"] == "canceled"
        )
    )
    retried = json.loads(tasky("chain", "retry", chain_id, "--json").stdout)
    assert retried["status"] == "running"
    tasky("chain", "cancel", chain_id, "-q")


def test_a_bad_file_is_a_usage_error_and_a_bad_chain_a_refusal(tasky, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    tasky("chain", "submit", str(bad), code=2)
    cycle = {"steps": [{"step": "a", "worker": "echo", "depends_on": ["a"]}]}
    result = tasky("chain", "submit", "-", stdin=json.dumps(cycle), code=3)
    assert "cycle" in result.stderr.lower()


def test_the_client_submits_idempotently(server):
    with Client(server.url) as client:
        first = client.submit_chain({**CHAIN, "idempotency_key": "cli-1"})
        again = client.submit_chain({**CHAIN, "idempotency_key": "cli-1"})
        assert first.created and not again.created
        assert again.chain_id == first.chain_id and again.steps == first.steps
        chain = client.chain(first.chain_id)
        assert [s["step"] for s in chain.steps] == ["a", "b"]
        assert first.chain_id in [c.chain_id for c in client.iter_chains(page_size=1)]
        with pytest.raises(ValidationFailed):
            client.submit_chain({"steps": []})


def test_the_client_submits_a_chain_schedule_once(server):
    with Client(server.url) as client:
        schedule = client.submit_chain({**CHAIN, "interval": 3600})
        assert isinstance(schedule, dict) and schedule["worker"] == ""
        assert client.schedule(schedule["schedule_id"]).raw["chain"]["name"] == "cli"
        client.delete_schedule(schedule["schedule_id"])
