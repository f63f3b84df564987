"""The ``tasky`` command line against a real gunicorn server: output modes and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasky.cli import cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tasky(server, monkeypatch):
    """``tasky(*args)``: run the command line against the module's server."""
    monkeypatch.delenv("TASKY_API_TOKEN", raising=False)
    monkeypatch.setenv("TASKY_URL", server.url)
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, (result.output, result.stderr, result.exception)
        return result

    return run


def test_submit_wait_json(tasky):
    result = tasky("submit", "echo", "message=hello", "--wait", "--json")
    answer = json.loads(result.stdout)
    assert answer["status"] == "completed" and answer["output"] == {"message": "hello"}
    status = json.loads(tasky("status", answer["task_id"], "--json").stdout)
    assert status["status"] == "completed" and status["attempts"] == 1
    record = json.loads(tasky("show", answer["task_id"], "--json").stdout)
    assert record["config"] == {"message": "hello"}
    stats = json.loads(tasky("stats", answer["task_id"], "--json").stdout)
    assert stats["attempts"] == 1 and stats["ran_for"] >= 0


def test_quiet_prints_the_id_and_config_merges_file_and_pairs(tasky, tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"seconds": 30}')
    task_id = tasky(
        "submit", "sleeper", "--config", f"@{config}", "seconds:=0.1", "-q"
    ).stdout.strip()
    assert len(task_id) == 32
    tasky("submit", "sleeper", "seconds:=[1]", code=3)  # the server refuses a list
    result = json.loads(tasky("wait", task_id, "--json").stdout)
    assert result["output"] == {"slept": 0.1}


def test_table_output_when_piped_is_tab_separated(tasky):
    task_id = tasky("submit", "echo", "message=table", "-q").stdout.strip()
    tasky("wait", task_id)
    lines = tasky("status", task_id).stdout.splitlines()
    assert f"task_id\t{task_id}" in lines and "status\tcompleted" in lines
    rows = tasky("ls", "--worker", "echo", "--limit", "1").stdout.splitlines()
    assert rows[0].split("\t") == [
        "TASK_ID",
        "WORKER",
        "STATUS",
        "CREATED_AT",
        "EXECUTE_AT",
        "DURATION",
    ]
    assert rows[1].split("\t")[:3] == [task_id, "echo", "completed"]


def test_ls_ndjson_quiet_and_all_pages(tasky):
    ids = [tasky("submit", "echo", f"message={i}", "-q").stdout.strip() for i in range(3)]
    first_page = tasky("ls", "--worker", "echo", "--limit", "2", "--json").stdout.splitlines()
    assert len(first_page) == 2 and all(json.loads(line)["worker"] == "echo" for line in first_page)
    every = tasky("ls", "--worker", "echo", "--limit", "2", "--all", "-q").stdout.split()
    assert len(every) == len(set(every)) >= 3 and set(ids) <= set(every)
    assert every[0] == ids[-1]  # newest first


def test_task_actions(tasky):
    task_id = tasky(
        "submit", "echo", "message=later", "--delay", "3600", "--retry-backoff", "5", "-q"
    ).stdout.strip()
    changed = json.loads(
        tasky(
            "update", task_id, "message=final", "--timeout", "9", "--retries", "2", "--json"
        ).stdout
    )
    assert changed["config"] == {"message": "final"} and changed["retry_backoff"] == 5
    assert (changed["timeout"], changed["max_retries"]) == (9, 2)
    assert json.loads(tasky("pause", task_id, "--json").stdout)["status"] == "paused"
    assert json.loads(tasky("resume", task_id, "--json").stdout)["status"] == "scheduled"
    tasky("run", task_id, "-q")
    tasky("wait", task_id, "--timeout", "20")
    tasky("update", task_id, "--delay", "5", code=3)  # finished: 409
    copy = tasky("run", task_id, "-q").stdout.strip()
    assert copy != task_id
    tasky("cancel", task_id, code=3)  # finished: 409
    tasky("rm", task_id)
    result = tasky("status", task_id, code=3)
    assert "(404)" in result.stderr


def test_wait_timeout_and_a_canceled_task(tasky):
    task_id = tasky("submit", "sleeper", "seconds:=30", "-q").stdout.strip()
    tasky("wait", task_id, "--timeout", "0.2", code=124)
    tasky("cancel", task_id, "-q")
    result = tasky("wait", task_id, "--timeout", "10", "--json", code=1)
    assert json.loads(result.stdout)["status"] == "canceled"
    tasky("submit", "sleeper", "seconds:=30", "--wait", "--wait-timeout", "0.2", code=124)


def test_refusals_print_the_message_and_field_errors(tasky):
    result = tasky("submit", "sleeper", "seconds:=-1", code=3)
    assert "invalid config (422)" in result.stderr
    assert "config.seconds: Must be greater than or equal to 0" in result.stderr
    assert result.stdout == ""
    assert "(403)" in tasky("submit", "bash", "command=true", code=3).stderr
    assert "(404)" in tasky("workers", "nope", code=3).stderr


def test_usage_errors(tasky):
    tasky("submit", "echo", "no-equals-sign", code=2)
    tasky("submit", "echo", "--config", "[1]", code=2)
    tasky("submit", "echo", "--config", "{bad", code=2)
    tasky("submit", "echo", "--config", "@/no/such/file.json", code=2)
    tasky("submit", "echo", "--cron", "@daily", "--wait", code=2)
    tasky("workers", "--stats", code=2)
    tasky("nosuchcommand", code=2)


def test_schedules(tasky):
    sid = tasky("submit", "echo", "message=tick", "--interval", "3600", "-q").stdout.strip()
    cron = tasky("submit", "echo", "--cron", "0 9 * * *", "--timezone", "Europe/Paris", "--json")
    assert json.loads(cron.stdout)["next_run_at"].endswith("Z")
    listed = [json.loads(line) for line in tasky("schedule", "ls", "--json").stdout.splitlines()]
    assert sid in {s["schedule_id"] for s in listed}
    every = tasky("schedule", "ls", "--limit", "1", "--all", "-q").stdout.split()
    assert len(every) == len(listed) >= 2
    shown = json.loads(tasky("schedule", "show", sid, "--json").stdout)
    assert shown["interval"] == 3600 and shown["config"] == {"message": "tick"}
    changed = tasky("schedule", "update", sid, "--cron", "0 9 * * *", "message=tock", "--json")
    assert json.loads(changed.stdout)["cron"] == "0 9 * * *"
    assert json.loads(changed.stdout)["config"] == {"message": "tock"}
    tasky("schedule", "update", sid, code=2)  # nothing to change
    bounded = tasky(
        "submit",
        "echo",
        "--interval",
        "30",
        "--start",
        "2030-01-01T09:00:00Z",
        "--end",
        "2030-01-02T09:00:00Z",
        "--overlap",
        "allow",
        "--misfire",
        "skip",
        "--json",
    )
    bounded_id = json.loads(bounded.stdout)["schedule_id"]
    assert json.loads(bounded.stdout)["next_run_at"].startswith("2030-01-01T09:00:00")
    bounded_schedule = json.loads(tasky("schedule", "show", bounded_id, "--json").stdout)
    assert (bounded_schedule["overlap"], bounded_schedule["misfire"]) == ("allow", "skip")
    assert json.loads(tasky("schedule", "pause", sid, "--json").stdout)["status"] == "paused"
    tasky("schedule", "pause", sid, code=3)
    assert json.loads(tasky("schedule", "resume", sid, "--json").stdout)["status"] == "active"
    fired = tasky("schedule", "run", sid, "-q").stdout.strip()
    assert tasky("ls", "--schedule", sid, "-q").stdout.split() == [fired]
    tasky("schedule", "rm", sid)
    tasky("schedule", "show", sid, code=3)


def test_workers_health_runners(tasky):
    rows = tasky("workers").stdout.splitlines()
    assert rows[0].startswith("NAME\tENABLED") and any(r.startswith("sleeper\t") for r in rows)
    assert "echo" in tasky("workers", "-q").stdout.split()
    info = json.loads(tasky("workers", "sleeper", "--json").stdout)
    assert info["parameters"]["seconds"]["type"] == "number"
    stats = json.loads(tasky("workers", "sleeper", "--stats", "--json").stdout)
    assert stats["name"] == "sleeper"
    assert json.loads(tasky("health", "--json").stdout)["status"] == "ok"
    result = CliRunner().invoke(cli, ["runners", "--json"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines and all(json.loads(line)["status"] == "live" for line in lines)


def test_unreachable_server_is_exit_5(closed_url):
    result = CliRunner().invoke(cli, ["--url", closed_url, "health"])
    assert result.exit_code == 5 and closed_url in result.stderr


def test_token_missing_is_exit_4(server_factory, monkeypatch):
    monkeypatch.delenv("TASKY_API_TOKEN", raising=False)
    secured = server_factory(env={"TASKY_API_TOKEN": "s3cret"})
    runner = CliRunner()
    refused = runner.invoke(cli, ["--url", secured.url, "ls"])
    assert refused.exit_code == 4 and "(401)" in refused.stderr
    allowed = runner.invoke(cli, ["--url", secured.url, "--token", "s3cret", "ls"])
    assert allowed.exit_code == 0
    from_env = runner.invoke(
        cli, ["ls"], env={"TASKY_URL": secured.url, "TASKY_API_TOKEN": "s3cret"}
    )
    assert from_env.exit_code == 0


def test_python_m_tasky(server):
    env = {**os.environ, "TASKY_URL": server.url, "PYTHONPATH": str(ROOT)}
    env.pop("TASKY_API_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "tasky", "submit", "echo", "message=real", "--wait", "--json"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == {"message": "real"}
