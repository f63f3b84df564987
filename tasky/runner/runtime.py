"""One runner per process: a scheduler thread and an executor pool around one store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tasky.config import Settings
from tasky.models import NewTask, Task
from tasky.registry import Registry
from tasky.runner.executor import Executor
from tasky.runner.hooks import call_hook
from tasky.runner.scheduler import Scheduler, owner_id
from tasky.stores.base import Store

logger = logging.getLogger(__name__)

SHUTDOWN_WAIT = 5.0


class Runtime:
    """Built by the app factory, started per process (after gunicorn's fork)."""

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
        logger.info("runner %s started", self.owner)

    def stop(self) -> None:
        """Stop claiming, abort running tasks, and hand them back at once: each is retried
        if it has retries left, else fails as ``interrupted`` (as after a crash)."""
        if not self.started:
            return
        self.scheduler.stop()
        self.executor.shutdown(SHUTDOWN_WAIT)
        for task in self.store.recover(self.clock(), owner=self.owner):
            call_hook(self.registry, task)
        self.store.close()
        self.scheduler = self.executor = None
        logger.info("runner %s stopped", self.owner)

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        return store_and_wake(self.store, tasks, self.wake)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        if self.scheduler is not None:
            self.scheduler.wake(worker, due_at)

    def abort(self, task_id: str) -> None:
        if self.executor is not None:
            self.executor.abort(task_id, "canceled")


def store_and_wake(
    store: Store, tasks: list[NewTask], wake: Callable[[str, float], None]
) -> list[tuple[Task, bool]]:
    """``Store.create_tasks`` for tasks of one worker, then ``wake`` for the first due time
    of those created."""
    stored = store.create_tasks(tasks)
    due = [task.execute_at for task, created in stored if created]
    if due:
        wake(tasks[0].worker, min(due))
    return stored
