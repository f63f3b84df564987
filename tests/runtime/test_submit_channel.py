"""New tasks handed over a Unix socket to the process that stores them, on a real SQLite
file; and what an HTTP process does when its runner process is gone."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading

import pytest

from tasky.config import Settings
from tasky.ids import new_id
from tasky.models import NewTask, TaskState
from tasky.registry import Registry
from tasky.runner.channel import RunnerGone, SubmitClient, listen, serve
from tasky.runner.process import RunnerProcess
from tasky.runner.runtime import Runtime
from tasky.stores.sqlite import SQLiteStore
from tests.runtime.conftest import Probe
from tests.support import wait_for

pytestmark = pytest.mark.timeout(60)


def new(key: str | None = None, delay: float = 0.0) -> NewTask:
    import time

    now = time.time()
    return NewTask(
        id=new_id(now),
        worker="probe",
        config={},
        execute_at=now + delay,
        created_at=now,
        idempotency_key=key,
    )


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(str(tmp_path / "tasks.db"))
    yield store
    store.close()


@pytest.fixture
def client(store):
    listener = listen()
    serve(listener, store.create_tasks, os.getpid())
    client = SubmitClient(listener.getsockname())
    yield client
    client.close()
    listener.close()


def test_sent_tasks_are_stored_before_the_answer(client, store):
    tasks = [new(), new(delay=60)]
    answer = client.create_tasks(tasks)
    assert [(task.id, created) for task, created in answer] == [(t.id, True) for t in tasks]
    assert [store.get_task(t.id).status for t in tasks] == [TaskState.QUEUED, TaskState.SCHEDULED]


def test_a_matched_idempotency_key_answers_the_stored_task(client, store):
    ((first, created),) = client.create_tasks([new(key="invoice-42")])
    assert created
    ((again, created),) = client.create_tasks([new(key="invoice-42")])
    assert (again.id, created) == (first.id, False)
    assert sum(store.worker_counts("probe").by_status.values()) == 1


def test_each_thread_has_its_own_connection(client, store):
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(client.create_tasks([new()])))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(answers) == 8 and len(client._opened) == 8
    assert sum(store.worker_counts("probe").by_status.values()) == 8


def test_an_error_of_the_store_is_raised_to_the_sender(client):
    task = new()
    client.create_tasks([task])
    with pytest.raises(sqlite3.IntegrityError):
        client.create_tasks([task])  # the same id again
    assert client.create_tasks([new()])[0][1]  # the connection still serves


def _submit_from_another_process(address, outcome) -> None:
    try:
        SubmitClient(address, timeout=5).create_tasks([new()])
        outcome.put("stored")
    except RunnerGone as gone:
        outcome.put(f"runner gone, sent={gone.sent}")


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_another_process_is_refused(client, store):
    """Any local process can reach an abstract address: only the HTTP process is answered
    (here, the test's own process)."""
    context = multiprocessing.get_context("fork")
    outcome = context.Queue()
    other = context.Process(target=_submit_from_another_process, args=(client.address, outcome))
    other.start()
    assert outcome.get(timeout=10).startswith("runner gone")  # refused, sent or not
    other.join(10)
    assert sum(store.worker_counts("probe").by_status.values()) == 0


def test_no_runner_listening_is_runner_gone_before_sending():
    listener = listen()
    address = listener.getsockname()
    listener.close()
    with pytest.raises(RunnerGone) as gone:
        SubmitClient(address).create_tasks([new()])
    assert gone.value.sent is False


def test_a_runner_that_does_not_answer_is_runner_gone_after_sending():
    listener = listen()  # accepts (the kernel's backlog) but never answers
    client = SubmitClient(listener.getsockname(), timeout=0.2)
    try:
        with pytest.raises(RunnerGone) as gone:
            client.create_tasks([new()])
        assert gone.value.sent is True
    finally:
        client.close()
        listener.close()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_submits_go_to_the_runner_process_and_are_stored_here_once_it_is_gone(tmp_path):
    """A single task is handed to the runner process; a batch is stored here and the runner
    woken; once the runner is gone, a single task is stored here too."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", poll_interval=30)
    store = SQLiteStore(f"{tmp_path}/tasks.db")
    died = threading.Event()
    runner = RunnerProcess(Runtime(settings, store, Registry(settings, [Probe])), on_death=died.set)
    runner.start()
    try:
        ((task, created),) = runner.create_tasks([new()])
        assert created and len(runner._submits._opened) == 1  # it went over the channel
        # The runner stored it and woke at once: its own poll is 30 s away.
        wait_for(lambda: store.get_task(task.id).status == TaskState.COMPLETED, timeout=10)
        batch = [task for task, _ in runner.create_tasks([new(), new()])]  # stored here
        wait_for(
            lambda: all(store.get_task(t.id).status == TaskState.COMPLETED for t in batch),
            timeout=10,
        )  # the runner was woken
        os.kill(runner.pid, signal.SIGKILL)
        assert died.wait(10)
        ((late, created),) = runner.create_tasks([new()])
        assert created and store.get_task(late.id).status == TaskState.QUEUED
    finally:
        runner.stop()
        store.close()
