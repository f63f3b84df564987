"""A runner releasing children: a child starts as soon as its parent has ended, not on a
poll; its worker sees its parents' results and validates its resolved config."""

from __future__ import annotations

import pytest

from tasky.models import TaskState
from tests.runtime.conftest import Probe
from tests.support import wait_for

pytestmark = pytest.mark.timeout(30)


def finished(service, task_id):
    task = service.get_task(task_id)
    return task if task.status.is_terminal else None


def test_a_child_starts_once_its_parent_ends_without_a_poll(make_runner):
    service = make_runner(poll_interval=30.0)
    service.submit("probe", {})  # the first full pass is spent: what follows must wake it
    wait_for(lambda: len(Probe.started) == 1)
    parent = service.submit("probe", {"config": {"mode": "sleep", "sleep": 0.2}}).task
    child = service.submit("probe", {"depends_on": [parent.id]}).task
    assert child.status is TaskState.BLOCKED
    done = wait_for(lambda: finished(service, child.id), timeout=3)
    assert done.status is TaskState.COMPLETED
    parent_end = service.get_task(parent.id).finished_at
    assert Probe.started[child.id] - parent_end < 0.5  # a poll would be 30 s


def test_a_resolved_config_the_worker_refuses_fails_the_child(service):
    parent = service.submit("probe", {}).task
    ref = {"$from": parent.id, "path": "/output/attempt"}  # an integer, where mode is a string
    child = service.submit("probe", {"config": {"mode": ref}, "depends_on": [parent.id]}).task
    done = wait_for(lambda: finished(service, child.id))
    assert done.status is TaskState.FAILED
    assert done.config == {"mode": 1}
    assert done.error.startswith("invalid config")
