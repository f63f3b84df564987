"""Which submits wake the scheduler: only those due before it would look anyway."""

from __future__ import annotations

import pytest

from tasky.config import Settings
from tasky.registry import Registry
from tasky.runner.api_only import ApiOnly
from tasky.runner.executor import Executor
from tasky.runner.scheduler import CLAIM_AHEAD, Scheduler
from tasky.service import Service
from tasky.stores.sqlite import SQLiteStore
from tests.runtime.conftest import Probe
from tests.service_driver import ServiceDriver

pytestmark = pytest.mark.timeout(60)

NOW = 2_000_000_000.0


@pytest.fixture
def parts(tmp_path):
    """A scheduler that is never started: the test calls its ``tick``, at a fixed clock."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", poll_interval=30.0)
    store = SQLiteStore(f"{tmp_path}/tasks.db")
    registry = Registry(settings, [Probe])
    executor = Executor(settings, store, registry, "owner", lambda worker: None, clock=lambda: NOW)
    scheduler = Scheduler(settings, store, registry, executor, "owner", clock=lambda: NOW)
    service = ServiceDriver(  # wakes nothing
        Service(settings, store, registry, ApiOnly(store, registry), clock=lambda: NOW)
    )
    yield scheduler, service, store
    executor.shutdown(1.0)
    store.close()


def woken(scheduler: Scheduler) -> bool:
    is_set = scheduler._wake.is_set()
    scheduler._wake.clear()
    return is_set


def test_a_task_due_after_the_next_look_does_not_wake(parts):
    scheduler, service, _ = parts
    service.submit("probe", {"delay": 60})
    assert scheduler.tick() == pytest.approx(NOW + 60 - CLAIM_AHEAD)
    woken(scheduler)
    scheduler.wake("probe", NOW + 60)
    scheduler.wake("probe", NOW + 3600)
    assert not woken(scheduler)
    scheduler.wake("probe", NOW + 30)  # earlier than the look it plans
    assert woken(scheduler)
    scheduler.wake("probe")  # a wake with no due time: a slot freed, say
    assert woken(scheduler)


def test_a_worker_with_nothing_known_is_always_woken(parts):
    scheduler, _, _ = parts
    scheduler.wake("probe", NOW + 3600)  # before any tick
    assert woken(scheduler)
    assert scheduler.tick() > NOW + 1  # nothing stored: no look planned for probe
    woken(scheduler)
    scheduler.wake("probe", NOW + 3600)
    assert woken(scheduler)


def test_a_wake_during_a_tick_is_kept(parts, monkeypatch):
    """A tick may have read the store before the new task was committed: its plan does not
    count, and the wake stands."""
    scheduler, service, store = parts
    service.submit("probe", {"delay": 60})
    scheduler.tick()
    read = store.next_due_at

    def next_due_at_then_a_submit(worker):
        due = read(worker)
        scheduler.wake("probe", NOW + 120)
        return due

    monkeypatch.setattr(store, "next_due_at", next_due_at_then_a_submit)
    scheduler.wake("probe")
    woken(scheduler)
    scheduler.tick()
    assert woken(scheduler)
