"""How ``tasky`` prints on a terminal: aligned columns, compact values."""

from __future__ import annotations

from tasky.cli.output import Output, field_errors
from tasky.client.records import TaskSummary


def test_a_terminal_gets_aligned_columns(capsys):
    out = Output(as_json=False, quiet=False)
    out.terminal = True
    items = [
        TaskSummary.from_json({"task_id": "a", "worker": "sleeper", "duration": 1.23456}),
        TaskSummary.from_json({"task_id": "bbbb", "worker": "echo", "duration": None}),
        TaskSummary.from_json({"task_id": "c", "worker": "echo", "duration": 0.000123}),
    ]
    out.rows(items, ["task_id", "worker", "duration"], "task_id")
    assert capsys.readouterr().out.splitlines() == [
        "TASK_ID  WORKER   DURATION",
        "a        sleeper  1.235",
        "bbbb     echo     -",
        "c        echo     0.000123",
    ]
    out.record({"enabled": False, "config": {"a": [1, 2]}})
    assert capsys.readouterr().out.splitlines() == ["enabled  false", 'config   {"a":[1,2]}']


def test_field_errors_flatten_nested_messages():
    errors = {"tasks": {"1": {"config": {"seconds": ["Too small."]}}}, "cron": ["Bad.", "Worse."]}
    assert list(field_errors(errors)) == [
        "tasks.1.config.seconds: Too small.",
        "cron: Bad.",
        "cron: Worse.",
    ]
