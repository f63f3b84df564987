"""The app factory: settings → store → registry → runtime → service → API.

It builds the runtime but never starts it: threads and database connections do not survive
gunicorn's fork, so ``gunicorn.conf.py`` forks each worker process's runner process
(``runner``), which starts the runtime. The service tells that process of new work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import Flask

from tasky import api, dashboard
from tasky.api.errors import handle_tasky_error
from tasky.config import Settings
from tasky.errors import StoreUnavailable
from tasky.registry import Registry
from tasky.runner.process import RunnerProcess
from tasky.runner.runtime import Runtime
from tasky.service import TaskService
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
    service: TaskService


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    store = open_store(settings.database_url)
    registry = Registry.discover(settings)
    runtime = Runtime(settings, store, registry)
    runner = RunnerProcess(runtime)
    service = TaskService(settings, store, registry, runner)

    app = Flask(__name__, static_folder=None)  # /static/ is the dashboard's
    app.extensions["tasky"] = Tasky(settings, store, registry, runtime, runner, service)
    api.init_app(app, service)
    dashboard.init_app(app)
    for error in store.outage_errors:
        app.register_error_handler(error, functools.partial(_store_unavailable, store))
    return app


def _store_unavailable(store: Store, error: Exception):
    if not store.is_outage(error):
        raise error  # a server fault: Flask logs it and answers 500
    return handle_tasky_error(StoreUnavailable(f"store unavailable: {error}"))
