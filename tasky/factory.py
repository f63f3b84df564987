"""The app factory: settings → store → registry → runtime → service → API.

It builds the runtime but never starts it: threads and database connections do not survive
gunicorn's fork, so ``gunicorn.conf.py`` forks each worker process's runner process
(``runner``), which starts the runtime. The service tells that process of new work.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from tasky import api
from tasky.config import Settings
from tasky.models import RunnerStatus, Task
from tasky.registry import Registry
from tasky.runner.hooks import call_hooks
from tasky.runner.process import RunnerProcess
from tasky.runner.runtime import Runtime
from tasky.service import Service
from tasky.stores import open_store
from tasky.stores.base import Store


@dataclass(frozen=True)
class Tasky:
    """What ``app.extensions["tasky"]`` holds."""

    settings: Settings
    store: Store
    registry: Registry
    runtime: Runtime
    runner: RunnerProcess
    service: Service


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    store = open_store(settings.database_url)
    registry = Registry.discover(settings)
    runtime = Runtime(settings, store, registry)
    runner = _Runner(runtime)
    service = Service(settings, store, registry, runner)

    app = Flask(__name__)
    app.extensions["tasky"] = Tasky(settings, store, registry, runtime, runner, service)
    api.init_app(app, service)
    return app


class _Runner(RunnerProcess):
    """``RunnerProcess`` with the service's ``Engine`` methods ``ended`` and ``status``."""

    def ended(self, tasks: list[Task]) -> None:
        call_hooks(self.runtime.registry, tasks)

    def status(self) -> RunnerStatus:
        return RunnerStatus("running")
