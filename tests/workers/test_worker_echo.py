from __future__ import annotations

import logging

import marshmallow as ma
import pytest

from tasky.models import Task, TaskState
from workers.echo import Echo


def make_task(status: TaskState) -> Task:
    return Task(
        id="task-42", worker="echo", status=status, config={}, execute_at=0.0, created_at=0.0
    )


def test_returns_its_message(ctx):
    config = Echo.Config().load({"message": "hello"})
    assert Echo().perform(config, ctx) == {"message": "hello"}


def test_message_defaults_to_empty(ctx):
    assert Echo().perform(Echo.Config().load({}), ctx) == {"message": ""}


def test_rejects_unknown_fields_and_non_strings():
    with pytest.raises(ma.ValidationError) as info:
        Echo.Config().load({"message": 5, "other": 1})
    assert set(info.value.messages) == {"message", "other"}


@pytest.mark.parametrize(
    ("hook", "args", "word"),
    [
        ("on_success", ({"message": "hi"},), "success"),
        ("on_fail", ("boom",), "failed"),
        ("on_abort", (), "aborted"),
    ],
)
def test_hooks_log_with_task_id(caplog, hook, args, word):
    caplog.set_level(logging.INFO, logger="workers.echo")
    getattr(Echo(), hook)(make_task(TaskState.COMPLETED), *args)
    [record] = [r for r in caplog.records if r.name == "workers.echo"]
    assert record.levelno == logging.INFO
    assert word in record.getMessage() and "task-42" in record.getMessage()
