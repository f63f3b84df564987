"""The app factory: settings → store → registry → engine → service → API.

Unless ``TASKY_RUNNER=off``, it starts the process's runner (``tasky.runner.process``), in a
new interpreter: nothing of this process needs to survive a fork for tasks to run, so the
app may be served by anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from tasky import api, dashboard
from tasky.api.flask_app import TaskyFlask
from tasky.config import Settings
from tasky.metrics import exposition
from tasky.metrics.webhooks import DeliveryGauges
from tasky.registry import Registry
from tasky.runner.api_only import ApiOnly
from tasky.runner.process import RunnerProcess
from tasky.service import Service
from tasky.serving import answer_errors_in_json, configure_logging
from tasky.stores import open_store
from tasky.stores.base import Store


@dataclass(frozen=True)
class Tasky:
    """What ``app.extensions["tasky"]`` holds."""

    settings: Settings
    store: Store
    registry: Registry
    engine: RunnerProcess | ApiOnly
    service: Service


def create_app(settings: Settings | None = None) -> Flask:
    """The app, with its runner started beside it unless ``TASKY_RUNNER=off``."""
    configure_logging()
    answer_errors_in_json()
    settings = settings or Settings.from_env()
    store = open_store(settings.database_url)
    registry = Registry.discover(settings)
    engine: RunnerProcess | ApiOnly
    if settings.runner == "on":
        engine = RunnerProcess(settings, store, registry)
        engine.start()
    else:
        engine = ApiOnly(store, registry)
    service = Service(settings, store, registry, engine)

    app = TaskyFlask(__name__, static_folder=None)  # /static/ is the dashboard's
    app.extensions["tasky"] = Tasky(settings, store, registry, engine, service)
    api.init_app(app, service)
    dashboard.init_app(app)
    gauges = exposition.StoreGauges.of(store.unfinished_counts, settings.database_url)
    store_gauges = [gauges, DeliveryGauges(store.delivery_counts)]  # type: ignore[attr-defined]
    app.extensions[exposition.EXTENSION] = exposition.scrape_registry(
        *(store_gauges if settings.metrics_store_gauges else [])
    )
    return app
