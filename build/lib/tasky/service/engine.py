"""The running side of Tasky, as the service sees it.

``tasky.runner`` implements it: the runtime where tasks run in this process, the runner
process beside an HTTP process, ``ApiOnly`` where this process runs nothing. The service
never imports those: it is given one.
"""

from __future__ import annotations

from typing import Protocol

from tasky.models import NewTask, RunnerStatus, Task


class Engine(Protocol):
    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """``Store.create_tasks`` for new tasks of one worker, which then run when due."""

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        """New work (of ``worker``, or of any) may be due sooner than the scheduler thinks;
        ``due_at``: the new work of ``worker`` is due at that time or later."""

    def abort(self, task_id: str) -> None:
        """Stop the task if this process's runner runs it."""

    def ended(self, tasks: list[Task]) -> None:
        """Tasks the service ended itself (canceled before they started, the waiting runs of
        a deleted schedule): their workers' hooks are called."""

    def status(self) -> RunnerStatus:
        """This process's runner: ``running``, ``down`` (with the reason) or ``off``."""
