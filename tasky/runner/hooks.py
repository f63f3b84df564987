"""Calling a worker's hook after a task's new state is stored."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from tasky.errors import UnknownWorker
from tasky.metrics import instruments
from tasky.models import Task, TaskState
from tasky.registry import Registry

logger = logging.getLogger(__name__)


def call_hook(registry: Registry, task: Task) -> None:
    """Count the task's stored state (``tasky.metrics``), then call its hook."""
    instruments.ended([task])
    run_hook(registry, task)


def run_hook(registry: Registry, task: Task) -> None:
    """The one hook that fits the task's stored state; a hook that raises is logged and
    changes nothing."""
    try:
        worker = registry.get(task.worker)
    except UnknownWorker:
        return
    try:
        if task.status is TaskState.COMPLETED:
            worker.on_success(task, task.output)
        elif task.status is TaskState.FAILED:
            worker.on_fail(task, task.error or "")
        elif task.status is TaskState.CANCELED:
            worker.on_abort(task)
    except Exception:
        logger.exception("hook of worker %s raised for task %s", task.worker, task.id)


def call_hooks(registry: Registry, tasks: Iterable[Task]) -> None:
    """``call_hook`` for each task, in order."""
    for task in tasks:
        call_hook(registry, task)


def call_recovered(registry: Registry, tasks: list[Task]) -> None:
    """``call_hooks`` for tasks that recovery took back from a runner, counted as such."""
    instruments.recovered(tasks)
    call_hooks(registry, tasks)
