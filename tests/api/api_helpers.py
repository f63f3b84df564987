"""Assertions and store shortcuts shared by the API tests."""

from __future__ import annotations

import json
import re

from werkzeug.http import HTTP_STATUS_CODES

from tasky.models import Outcome, Task, TaskState

Z_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
OWNER = "test-runner"


def assert_error(resp, code: int) -> dict:
    """SPEC's one error shape: JSON ``{code, status, message[, errors]}``, no trace."""
    assert resp.status_code == code, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) <= {"code", "status", "message", "errors"}, body
    assert body["code"] == code
    assert body["status"] == HTTP_STATUS_CODES[code]
    assert isinstance(body["message"], str) and body["message"]
    if "errors" in body:
        assert isinstance(body["errors"], dict) and body["errors"]
    assert "Traceback" not in resp.get_data(as_text=True)
    return body


def assert_z_time(value) -> None:
    assert isinstance(value, str) and Z_TIME.match(value), value


def submit(client, worker: str = "echo", **body) -> dict:
    resp = client.post(f"/tasky/v1/workers/{worker}", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def start(store, clock, worker: str) -> Task:
    """Put the worker's one due task into ``running``, as a runner's claim does."""
    now = clock()
    (task,) = store.claim(worker, OWNER, 1, now, now, now + 30)
    assert task.status is TaskState.RUNNING
    return task


def finish(store, clock, task: Task, status=TaskState.COMPLETED, output=None, error=None):
    output_json = None if output is None else json.dumps(output)
    (done,) = store.finish(
        [
            Outcome(
                task.id, OWNER, task.attempts, status, clock(), output_json=output_json, error=error
            )
        ]
    )
    return done
