"""The webhook rules that need no store: settings, the retry schedule, the payload."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasky.config import Settings
from tasky.errors import ConfigError
from tasky.models import Task, TaskState
from tasky.runner.deliveries import JITTER, next_attempt
from tasky.webhooks.events import task_payload
from tasky.webhooks.sender import Answer

DELAYS = (0.0, 5.0, 300.0)


def answer(status=None, retry_after=None, delivered=False, error=None):
    return Answer(status, 0.1, "", retry_after, error, delivered)


def test_the_settings_and_their_defaults():
    settings = Settings.from_env({})
    assert settings.webhook_delays == (0, 5, 300, 1800, 7200, 18000, 36000)
    assert (settings.webhook_slots, settings.webhook_timeout) == (4, 15.0)
    assert settings.webhook_secret is None
    given = Settings.from_env({"TASKY_WEBHOOK_RETRIES": "0, 0.5", "TASKY_WEBHOOK_SLOTS": "2"})
    assert given.webhook_delays == (0.0, 0.5) and given.webhook_slots == 2


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TASKY_WEBHOOK_RETRIES": "0,soon"}, "TASKY_WEBHOOK_RETRIES"),
        ({"TASKY_WEBHOOK_RETRIES": "0,-5"}, "TASKY_WEBHOOK_RETRIES"),
        ({"TASKY_WEBHOOK_SLOTS": "0"}, "TASKY_WEBHOOK_SLOTS"),
        ({"TASKY_WEBHOOK_TIMEOUT": "0"}, "TASKY_WEBHOOK_TIMEOUT"),
        ({"TASKY_WEBHOOK_SECRET": "hunter2"}, "TASKY_WEBHOOK_SECRET"),
        ({"TASKY_WEBHOOK_SECRET": "whsec_!!!"}, "TASKY_WEBHOOK_SECRET"),
    ],
)
def test_bad_webhook_settings_stop_the_start(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_a_2xx_is_delivered_and_tried_no_more():
    got = next_attempt(1, DELAYS, answer(204, delivered=True), 100.0)
    assert got.delivered and got.retry_at is None and not got.gone


def test_failures_follow_the_delays_with_jitter_then_fail():
    assert next_attempt(1, DELAYS, answer(500), 100.0, rand=lambda: 0.0).retry_at == 105.0
    top = next_attempt(2, DELAYS, answer(error="timed out"), 100.0, rand=lambda: 1.0)
    assert top.retry_at == pytest.approx(100.0 + 300 * (1 + JITTER))
    assert next_attempt(3, DELAYS, answer(500), 100.0).retry_at is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_replaces_the_delay(status):
    got = next_attempt(1, DELAYS, answer(status, retry_after=42.0), 100.0)
    assert got.retry_at == 142.0
    assert next_attempt(3, DELAYS, answer(status, retry_after=1.0), 100.0).retry_at is None


def test_a_410_is_gone_without_a_retry():
    got = next_attempt(1, DELAYS, answer(410), 100.0)
    assert got.gone and got.retry_at is None


def test_a_large_output_is_left_out_of_the_payload():
    task = Task(
        "t" * 32, "echo", TaskState.COMPLETED, {}, 1.0, 1.0, 1.0, 2.0, 1, output={"x": "y" * 99}
    )
    small = task_payload("task.completed", task, 3.0, output_limit=1000)["data"]
    large = task_payload("task.completed", task, 3.0, output_limit=50)["data"]
    assert small["output"] == {"x": "y" * 99} and small["output_truncated"] is False
    assert large["output"] is None and large["output_truncated"] is True
    assert small["finished_at"] == "1970-01-01T00:00:02.000000Z"
    cut = task_payload("task.completed", replace(task, output_truncated=True), 3.0, 1000)
    assert (cut["data"]["output"], cut["data"]["output_truncated"]) == (None, True)
