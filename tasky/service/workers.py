"""Workers: the plugins this server knows, and figures over their tasks."""

from __future__ import annotations

from tasky.models import WorkerStatistics
from tasky.service.base import Part
from tasky.worker import Worker


class Workers(Part):
    def list(self) -> list[Worker]:
        return self.registry.all()

    def get(self, name: str) -> Worker:
        """The worker named ``name``, in any case; 404 when unknown."""
        return self.registry.get(name)

    def enabled(self, name: str) -> Worker:
        """The worker a submit would go to: 404 when unknown, 403 when disabled here."""
        return self.enabled_worker(name)

    def statistics(self, name: str) -> WorkerStatistics:
        worker = self.registry.get(name)
        return WorkerStatistics(worker.name, self.store.worker_counts(worker.name))
