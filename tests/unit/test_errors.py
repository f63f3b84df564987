"""One exception tree: every refusal is a ``TaskyError`` with its HTTP status, and its
docstring is the default message."""

from __future__ import annotations

import pytest

from tasky import errors
from tasky.errors import ConfigError, RunnerUnavailable, TaskyError, TriggerError


def test_every_error_of_the_module_is_in_the_tree():
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(cls, TaskyError) for cls in classes)
    assert {ConfigError, TriggerError, RunnerUnavailable} <= set(classes)


@pytest.mark.parametrize(
    ("error", "status"), [(RunnerUnavailable(), 503), (TriggerError("bad", "cron"), 422)]
)
def test_statuses(error, status):
    assert error.status_code == status


def test_the_docstring_is_the_default_message():
    assert RunnerUnavailable().message == "This server's runner is down."


def test_a_trigger_error_names_its_fields():
    error = TriggerError("a schedule needs exactly one of cron and interval", "cron", "interval")
    assert error.field == "cron"
    assert error.errors == {
        "cron": ["a schedule needs exactly one of cron and interval"],
        "interval": ["a schedule needs exactly one of cron and interval"],
    }
    assert str(error) == "a schedule needs exactly one of cron and interval"
