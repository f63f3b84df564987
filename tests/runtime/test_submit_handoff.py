"""Who stores a single submit of an HTTP process: the process itself when the submit is
alone, its runner (over the channel) when other submits are in flight; and which submits
tell the runner at all (those due before its next full pass)."""

from __future__ import annotations

import threading
import time

import pytest

from tasky.config import Settings
from tasky.models import NewTask, Task
from tasky.registry import Registry
from tasky.runner.process import RunnerProcess
from tasky.stores.sqlite import SQLiteStore
from tests.runtime.conftest import Probe
from tests.support import wait_for

pytestmark = pytest.mark.timeout(60)


class RecordingChannel:
    """The runner's end as the HTTP process sees it: stores what it is handed (as the runner
    does, in the same SQLite file) and records the news; ``hold`` keeps a ``tell`` waiting."""

    def __init__(self, store: SQLiteStore):
        self.store = store
        self.handed: list[str] = []
        self.told: list[tuple] = []
        self.hold = threading.Event()
        self.hold.set()

    def create_tasks(self, tasks: list[NewTask], get_task) -> list[tuple[Task, bool]]:
        self.handed += [task.id for task in tasks]
        return self.store.create_tasks(tasks)

    def tell(self, *message) -> None:
        self.told.append(message)
        self.hold.wait(10)

    def close(self) -> None:
        pass


@pytest.fixture
def engine(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", poll_interval=0.25)
    store = SQLiteStore(f"{tmp_path}/tasks.db")
    process = RunnerProcess(settings, store, Registry(settings, [Probe]))
    process.channel = RecordingChannel(store)  # never started: no runner process
    yield process
    store.close()


def new_task(task_id: str, due_in: float = 0.0) -> NewTask:
    now = time.time()
    return NewTask(id=task_id, worker="probe", config={}, execute_at=now + due_in, created_at=now)


def test_a_submit_alone_is_stored_by_the_http_process(engine):
    ((task, created),) = engine.create_tasks([new_task("a" * 32)])
    assert created and engine.store.get_task(task.id) is not None
    assert engine.channel.handed == []
    assert engine.channel.told == [("wake", "probe", task.execute_at)]


def test_a_submit_while_another_is_in_flight_is_handed_to_the_runner(engine):
    channel = engine.channel
    channel.hold.clear()  # the first submit stays in flight, telling its wake
    first = threading.Thread(target=engine.create_tasks, args=([new_task("a" * 32)],))
    first.start()
    wait_for(lambda: channel.told)
    ((second, created),) = engine.create_tasks([new_task("b" * 32)])
    channel.hold.set()
    first.join(10)
    assert created and channel.handed == [second.id]
    assert engine.store.get_task("a" * 32) is not None
    assert engine.store.get_task(second.id) is not None
    engine.create_tasks([new_task("c" * 32)])  # alone again
    assert channel.handed == [second.id]


def test_only_tasks_due_before_the_runners_next_full_pass_tell_it(engine):
    engine.create_tasks([new_task("a" * 32, due_in=3600)])
    engine.create_tasks([new_task("b" * 32, due_in=0.1)])
    assert [message[0:2] for message in engine.channel.told] == [("wake", "probe")]
    assert engine.channel.told[0][2] == engine.store.get_task("b" * 32).execute_at
