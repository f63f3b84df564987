"""The SQLite store's own mechanics: inserts of concurrent callers share one commit."""

from __future__ import annotations

import fcntl
import multiprocessing
import sqlite3
import struct
import threading
from dataclasses import replace

import pytest

from tasky.ids import new_id
from tasky.models import NewTask
from tasky.stores.sqlite import SQLiteStore
from tests.support import wait_for

T0 = 1_800_000_000.0


def new(task_id: str | None = None) -> NewTask:
    return NewTask(id=task_id or new_id(T0), worker="echo", config={}, execute_at=T0, created_at=T0)


def insert_behind_a_writer(store: SQLiteStore, tasks: list[NewTask]) -> list:
    """Each task created by its own thread while another writer holds the write lock, so
    all of them queue; then the writer lets go. Each thread's result or error, in order."""
    results: list = [None] * len(tasks)

    def create(index: int) -> None:
        try:
            results[index] = store.create_tasks([tasks[index]])
        except sqlite3.Error as exc:
            results[index] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(tasks))]
    with store._write_lock:
        for thread in threads:
            thread.start()
        wait_for(lambda: len(store._queued_inserts) == len(tasks))
    for thread in threads:
        thread.join(10)
    return results


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(str(tmp_path / "tasks.db"))
    yield store
    store.close()


def test_queued_inserts_are_all_stored_and_each_caller_gets_its_own(store):
    tasks = [new() for _ in range(5)]
    results = insert_behind_a_writer(store, tasks)
    for task, result in zip(tasks, results, strict=True):
        ((stored, created),) = result
        assert created and stored.id == task.id
        assert store.get_task(task.id) is not None


def test_queued_inserts_share_one_transaction(store):
    ((taken, _),) = store.create_tasks([new()])
    tasks = [new() for _ in range(3)] + [new(taken.id)]  # the last one cannot be inserted
    results = insert_behind_a_writer(store, tasks)
    assert all(isinstance(result, sqlite3.IntegrityError) for result in results)
    assert all(store.get_task(task.id) is None for task in tasks[:3])
    ((later, created),) = store.create_tasks([new()])  # the store goes on after the failure
    assert created and store.get_task(later.id) is not None


def _hold_write_lock(store: SQLiteStore, held, release) -> None:
    with store._write_lock:
        held.set()
        release.wait(20)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_processes_take_turns_on_the_write_lock_even_after_a_fork(store):
    """A forked child (a runner process, a gunicorn worker) locks the file on its own
    descriptor: an flock on the parent's would not exclude the parent."""
    store.create_tasks([new()])  # the parent has opened its lock file
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    child = context.Process(target=_hold_write_lock, args=(store, held, release))
    child.start()
    try:
        assert held.wait(20)
        with pytest.raises(BlockingIOError):
            fcntl.flock(store._write_lock._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        release.set()
        child.join(20)
    assert child.exitcode == 0
    store.create_tasks([new()])
    assert sum(store.worker_counts("echo").by_status.values()) == 2


def test_commits_never_checkpoint_and_a_thread_of_the_writer_does(tmp_path, monkeypatch):
    """A commit that crosses the automatic threshold would checkpoint, with its fsyncs, while
    holding the write lock: commits leave the WAL alone, and the writing process's
    checkpointer thread copies it into the database file."""
    monkeypatch.setattr("tasky.stores.sqlite.CHECKPOINT_EVERY", 0.05)
    path = tmp_path / "tasks.db"
    store = SQLiteStore(str(path))
    main_file_size = path.stat().st_size
    store.create_tasks([new()])
    assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    for _ in range(50):  # pages enough to grow the database file once checkpointed
        store.create_tasks([replace(new(), config={"pad": "x" * 4000})])
    wait_for(lambda: path.stat().st_size > main_file_size, timeout=20)
    checkpointer = store._checkpointer
    assert checkpointer is not None
    store.close()
    assert not checkpointer._thread.is_alive()


def wal_sequence(path) -> int:
    """The WAL header's checkpoint sequence: SQLite adds one each time the WAL starts over."""
    with open(f"{path}-wal", "rb") as wal:
        return struct.unpack(">I", wal.read(16)[12:16])[0]


def test_the_wal_starts_over_under_a_steady_stream_of_writes(tmp_path, monkeypatch):
    """SQLite starts the WAL over only when a write finds all of it copied, which writes that
    never pause would not let happen: past the limit, the checkpointer copies the last frames
    holding the write lock, and the WAL starts over while the writes go on."""
    monkeypatch.setattr("tasky.stores.sqlite.CHECKPOINT_EVERY", 0.02)
    monkeypatch.setattr("tasky.stores.sqlite.WAL_LIMIT_FRAMES", 100)
    path = tmp_path / "tasks.db"
    store = SQLiteStore(str(path))
    store.create_tasks([new()])
    first = wal_sequence(path)
    stop = threading.Event()
    written = []

    def write() -> None:
        while not stop.is_set():
            store.create_tasks([new()])
            written.append(1)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: wal_sequence(path) != first, timeout=20)
        at_restart = len(written)
        wait_for(lambda: len(written) > at_restart + 10, timeout=20)  # and the writes go on
    finally:
        stop.set()
        writer.join()
    store.close()


def test_a_reader_holding_the_wal_back_does_not_make_the_checkpointer_wait_for_writers(
    tmp_path, monkeypatch
):
    """Past the limit, frames that a reader's snapshot (an export's) still needs cannot be
    copied: the checkpointer then leaves the WAL for a later turn, rather than take the write
    lock to copy what it cannot, which would hold up every writer for nothing. Once the
    reader ends, the WAL starts over."""
    monkeypatch.setattr("tasky.stores.sqlite.CHECKPOINT_EVERY", 3600.0)
    monkeypatch.setattr("tasky.stores.sqlite.WAL_LIMIT_FRAMES", 10)
    path = tmp_path / "tasks.db"
    store = SQLiteStore(str(path))
    store.create_tasks([new() for _ in range(200)])
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM tasks").fetchone()
    store.create_tasks([new() for _ in range(200)])  # frames past the reader's snapshot
    checkpointer, conn = store._checkpointer, store._connect()
    assert checkpointer is not None
    attempt = threading.Thread(target=checkpointer._checkpoint, args=(conn,))
    with store._write_lock:
        attempt.start()
        attempt.join(10)
        waited_for_writers = attempt.is_alive()
    attempt.join()
    assert not waited_for_writers
    reader.execute("ROLLBACK")
    first = wal_sequence(path)
    checkpointer._checkpoint(conn)
    store.create_tasks([new()])
    assert wal_sequence(path) != first
    conn.close()
    reader.close()
    store.close()
