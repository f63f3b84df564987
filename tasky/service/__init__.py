"""What the HTTP layer calls: the only door to the engine, one part per resource.

Requests arrive as the records of ``tasky.requests``, already checked for shape by the API
schemas; the triggers check what a schedule means. The service applies the rules that need
the workers, the store, the settings or the clock, and answers with domain records: how they
look in JSON is the API's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tasky.config import Settings
from tasky.registry import Registry
from tasky.service.backup import Backup
from tasky.service.base import Part
from tasky.service.chains import Chains
from tasky.service.dashboard import Dashboard
from tasky.service.engine import Engine
from tasky.service.operations import Operations
from tasky.service.schedules import Schedules
from tasky.service.tasks import Tasks
from tasky.service.webhooks import Webhooks
from tasky.service.workers import Workers
from tasky.stores.base import Store

__all__ = ["Engine", "Service"]


class Service(Part):
    """``.workers``, ``.tasks``, ``.schedules``, ``.chains``, ``.operations``, ``.dashboard``,
    ``.backup``, ``.webhooks``: one method per action. Its ``settings``, ``store``,
    ``registry``, ``engine`` and ``clock`` are those of every part."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        engine: Engine,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(settings, store, registry, engine, clock)
        parts = (settings, store, registry, engine, clock)
        self.workers = Workers(*parts)
        self.tasks = Tasks(*parts)
        self.schedules = Schedules(*parts)
        self.chains = Chains(*parts)
        self.operations = Operations(*parts)
        self.dashboard = Dashboard(*parts)
        self.backup = Backup(*parts)
        self.webhooks = Webhooks(*parts)
