"""Fixtures of the API tests: a Flask app wired by ``tasky.api.init_app`` over the real
SQLite store on ``tmp_path``, test workers, and a clock the tests move (no threads run)."""

from __future__ import annotations

import time
from dataclasses import replace

import marshmallow as ma
import pytest
from flask import Flask

import tasky.api
from tasky.api.flask_app import TaskyFlask
from tasky.config import Settings
from tasky.registry import Registry
from tasky.runner.api_only import ApiOnly
from tasky.service import Service
from tasky.stores.sqlite import SQLiteStore
from tasky.worker import Worker
from workers.echo import Echo
from workers.sleeper import Sleeper


class Greeter(Worker):
    name = "Greeter"
    description = "Greets someone."
    usage = 'POST /tasky/v1/workers/greeter {"config": {"who": "Ada"}}'
    max_num_tasks = 2

    class Config(ma.Schema):
        who = ma.fields.String(required=True, metadata={"description": "Whom to greet."})
        times = ma.fields.Integer(load_default=1)

    def perform(self, config, ctx):
        return {"greeting": f"hello {config['who']}"}


class Locked(Worker):
    name = "locked"
    description = "Always disabled."

    @property
    def enabled(self) -> bool:
        return False


class Broken(Worker):
    name = "broken"
    description = "Its config check crashes: a server fault, not bad input."

    def validate(self, config):
        raise RuntimeError("boom in validate")


WORKERS = [Greeter, Locked, Broken, Echo, Sleeper]


class FakeClock:
    """The service's clock; tests move it instead of sleeping."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(round(time.time(), 3))


@pytest.fixture
def make_app(tmp_path, clock):
    """Build an app; other keyword arguments override ``Settings`` fields."""
    stores = []

    def make(engine=ApiOnly, **overrides) -> Flask:
        """``engine(store, registry)``: the service's engine (an API-only one by default)."""
        db = tmp_path / f"tasky{len(stores)}.db"
        settings = replace(
            Settings(database_url=f"sqlite:///{db}", files_root=str(tmp_path / "files")),
            **overrides,
        )
        settings.validate()
        store = SQLiteStore(str(db))
        stores.append(store)
        registry = Registry(settings, WORKERS)
        service = Service(settings, store, registry, engine(store, registry), clock=clock)
        app = TaskyFlask(__name__)
        app.config["TESTING"] = True
        tasky.api.init_app(app, service)
        return app

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app) -> Service:
    return app.extensions["tasky_service"]


@pytest.fixture
def store(service):
    return service.store
