"""Operations: this server's health, and the runners sharing its store."""

from __future__ import annotations

from tasky import __version__
from tasky.errors import RunnerUnavailable, StoreUnavailable
from tasky.models import Health, RunnerInfo
from tasky.service.base import Part


class Operations(Part):
    def health(self) -> Health:
        """``StoreUnavailable`` when the store does not answer, ``RunnerUnavailable`` when
        this server's runner is down: both 503, the reason in their message."""
        try:
            self.store.ping()
        except Exception as exc:
            raise StoreUnavailable(f"store unreachable: {exc}") from exc
        runner = self.engine.status()
        if runner.state == "down":
            raise RunnerUnavailable(f"runner down: {runner.reason or 'no reason given'}")
        return Health(
            store=self.store.kind,
            version=__version__,
            workers=[worker.name for worker in self.registry.all()],
            runner=runner,
        )

    def runners(self) -> list[RunnerInfo]:
        """The runners whose heartbeats the store holds, live or gone."""
        return self.store.list_runners()
