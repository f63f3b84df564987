"""A runner: the scheduler thread and the executor's slots of one process, around one store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tasky.config import Settings
from tasky.metrics import instruments
from tasky.models import NewTask, RunnerStatus, Task
from tasky.registry import Registry
from tasky.runner.deliveries import Deliveries
from tasky.runner.executor import Executor
from tasky.runner.hooks import call_hooks, call_recovered
from tasky.runner.identity import owner_id
from tasky.runner.scheduler import Scheduler
from tasky.stores.base import Store

logger = logging.getLogger(__name__)

SHUTDOWN_WAIT = 5.0
"""Seconds running tasks get to stop at a shutdown before they are handed back."""


class Runner:
    """Built by whoever runs tasks (the runner process, or a test), then started: its
    threads start in ``start``, never at construction."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.clock = clock
        self.owner: str | None = None
        self.executor: Executor | None = None
        self.scheduler: Scheduler | None = None
        self.deliveries: Deliveries | None = None

    @property
    def started(self) -> bool:
        return self.scheduler is not None

    def start(self) -> None:
        if self.started:
            return
        self.owner = owner_id()
        self.executor = Executor(
            self.settings, self.store, self.registry, self.owner, self.wake, self.clock
        )
        self.scheduler = Scheduler(
            self.settings, self.store, self.registry, self.executor, self.owner, self.clock
        )
        self.scheduler.start()
        self.deliveries = Deliveries(self.settings, self.store, self.owner, self.clock)
        self.deliveries.start()
        logger.info("runner %s started", self.owner)

    def stop(self) -> None:
        """Stop claiming, abort running tasks, and hand them back at once: each is retried
        if it has retries left, else fails as ``interrupted`` (as after a crash)."""
        if self.scheduler is None or self.executor is None or self.owner is None:
            return
        self.scheduler.stop()
        if self.deliveries is not None:
            self.deliveries.stop()
        self.executor.shutdown(SHUTDOWN_WAIT)
        call_recovered(self.registry, self.store.recover(self.clock(), owner=self.owner))
        self.store.remove_runner(self.owner)
        self.store.close()
        self.scheduler = self.executor = None
        logger.info("runner %s stopped", self.owner)

    # -- the engine, as the service sees it ---------------------------------------------------

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        return store_and_wake(self.store, tasks, self.wake)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        if self.scheduler is not None:
            self.scheduler.wake(worker, due_at)
        if self.deliveries is not None and worker is None:
            self.deliveries.wake()  # a ping or a retry of a delivery may have been stored

    def abort(self, task_id: str) -> None:
        if self.executor is not None:
            self.executor.abort(task_id, "canceled")

    def ended(self, tasks: list[Task]) -> None:
        call_hooks(self.registry, tasks)

    def status(self) -> RunnerStatus:
        return RunnerStatus("running") if self.started else RunnerStatus("down", "not started")


def store_and_wake(
    store: Store, tasks: list[NewTask], wake: Callable[[str, float], None]
) -> list[tuple[Task, bool]]:
    """``Store.create_tasks`` for tasks of one worker, counted, then ``wake`` for the first
    due time of those created."""
    stored = store.create_tasks(tasks)
    due = [task.execute_at for task, created in stored if created]
    instruments.submitted(tasks[0].worker, len(due))
    if due:
        wake(tasks[0].worker, min(due))
    return stored
