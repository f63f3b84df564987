"""The engine of a process that runs no tasks (``TASKY_RUNNER=off``): an API node. It stores
what it is given; runners elsewhere (``tasky runner``, other servers) run it when due."""

from __future__ import annotations

from tasky.models import NewTask, RunnerStatus, Task
from tasky.registry import Registry
from tasky.runner.hooks import call_hooks
from tasky.runner.runner import store_and_wake
from tasky.stores.base import Store


class ApiOnly:
    def __init__(self, store: Store, registry: Registry):
        self.store = store
        self.registry = registry

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        return store_and_wake(self.store, tasks, self.wake)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        """Nothing runs here to wake: PostgreSQL notifies the runners; on SQLite they poll."""

    def abort(self, task_id: str) -> None:
        """The runner that holds the task learns of the cancel from the store."""

    def ended(self, tasks: list[Task]) -> None:
        call_hooks(self.registry, tasks)

    def status(self) -> RunnerStatus:
        return RunnerStatus("off")
