"""What every part of the service shares: the settings, the store, the workers, the engine
and the clock, and the checks of a worker and its config that each submit makes."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import marshmallow as ma

from tasky.config import Settings
from tasky.errors import InvalidInput, WorkerDisabled
from tasky.refs import has_references, reference_errors
from tasky.registry import Registry
from tasky.service.engine import Engine
from tasky.stores.base import Store
from tasky.worker import Worker


class Part:
    """One resource's share of the service."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        engine: Engine,
        clock: Callable[[], float],
    ):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.engine = engine
        self.clock = clock

    def enabled_worker(self, name: str) -> Worker:
        """The worker named ``name`` (any case); 404 when unknown, 403 when disabled here."""
        worker = self.registry.get(name)
        if not worker.enabled:
            raise WorkerDisabled(f"worker {worker.name!r} is disabled on this server")
        return worker


def valid_config(worker: Worker, config: dict[str, Any] | None) -> dict[str, Any]:
    """Validate with the worker's schema; the JSON form of the loaded config is stored."""
    schema = worker.config_schema
    try:
        loaded = worker.validate(worker.load_config(config or {}))
    except ma.ValidationError as exc:
        raise InvalidInput("invalid config", errors={"config": exc.messages}) from None
    return schema.dump(loaded)


def config_with_references(
    config: dict[str, Any] | None, parents: Collection[str], check: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """A config that takes values from its ``parents`` (``$from``) is stored as given: the
    worker's schema validates it once resolved, when the task is released. Any other is
    ``check``-ed now."""
    if config is None or not has_references(config):
        return check(config)
    errors = reference_errors(config, set(parents))
    if errors:
        raise InvalidInput("invalid references in config", errors={"config": errors})
    return config
