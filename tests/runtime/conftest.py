"""A runner (scheduler + executor) on a real SQLite file, with test workers."""

from __future__ import annotations

import datetime
import logging
import math
import threading

import marshmallow as ma
import pytest

from tasky.config import Settings
from tasky.registry import Registry
from tasky.runner.runner import Runner
from tasky.service import Service
from tasky.stores.sqlite import SQLiteStore
from tasky.worker import TaskFailed, Worker
from tests.service_driver import ServiceDriver

logger = logging.getLogger(__name__)


class Probe(Worker):
    """Records what happens to it; behaviour chosen by config."""

    name = "probe"
    max_num_tasks = 2
    started: dict[str, float] = {}
    release = threading.Event()
    hook_states: list[tuple[str, str, str]] = []
    store: SQLiteStore | None = None

    class Config(ma.Schema):
        mode = ma.fields.String(load_default="ok")
        sleep = ma.fields.Float(load_default=0)
        fail_times = ma.fields.Integer(load_default=0)

    def perform(self, config, ctx):
        import time

        Probe.started.setdefault(ctx.task_id, time.time())
        mode = config["mode"]
        if mode == "sleep":
            ctx.sleep(config["sleep"])
        elif mode == "block":
            while not Probe.release.is_set():
                ctx.sleep(0.01)
        elif mode == "ignore-abort":
            Probe.release.wait(10)
        elif mode == "fail" and ctx.attempt <= config["fail_times"]:
            raise RuntimeError(f"attempt {ctx.attempt} failed")
        elif mode == "task-failed":
            raise TaskFailed("exit code 3", {"exit_code": 3})
        elif mode == "big":
            return {"blob": "x" * 5000}
        elif mode == "odd":  # values JSON cannot hold
            return {"when": datetime.date(2026, 12, 3), "nan": math.nan, 1: "one"}
        elif mode == "no-json":
            return {(1, 2): "pair"}
        return {"attempt": ctx.attempt}

    def _record(self, hook, task):
        stored = Probe.store.get_task(task.id)
        Probe.hook_states.append((hook, task.id, stored.status.value))

    def on_success(self, task, output):
        self._record("success", task)

    def on_fail(self, task, error):
        self._record("fail", task)

    def on_abort(self, task):
        self._record("abort", task)
        raise RuntimeError("a hook that raises changes nothing")


class Plain(Worker):
    """A worker with the base Config: it returns the config it was given."""

    name = "plain"

    def perform(self, config, ctx):
        return {"config": config}


@pytest.fixture
def make_runner(tmp_path):
    """Build (and start) runners sharing one database, as processes of one host would."""
    runners = []

    def make(start=True, **overrides):
        settings = Settings(
            database_url=f"sqlite:///{tmp_path}/tasks.db",
            output_limit=1000,
            min_interval=0.05,
            **overrides,
        )
        store = SQLiteStore(f"{tmp_path}/tasks.db")
        registry = Registry(settings, [Probe, Plain])
        runner = Runner(settings, store, registry)
        service = ServiceDriver(Service(settings, store, registry, runner))
        Probe.store = store
        if start:
            runner.start()
        runners.append(runner)
        return service

    Probe.started.clear()
    Probe.hook_states.clear()
    Probe.release.clear()
    yield make
    Probe.release.set()
    for runner in runners:
        runner.stop()


@pytest.fixture
def service(make_runner):
    return make_runner()
