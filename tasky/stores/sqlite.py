"""The embedded store: one SQLite file shared by every process on the host.

WAL lets readers run beside the one writer. Writers take turns on ``_WriteLock`` (below),
so SQLite's busy handler, which waits by sleeping, only arbitrates with programs other than
Tasky; ``busy_timeout`` makes those queue instead of failing. Every write is a single
statement or an explicit ``BEGIN IMMEDIATE`` transaction. ``synchronous=NORMAL`` keeps every
commit across a crash of the process (``kill -9``); only a power loss may take the last
commits.

No commit runs a checkpoint (``wal_autocheckpoint=0``): SQLite's automatic one ran inside the
commit that crossed 1,000 WAL pages, with its fsyncs, while that writer held the write lock,
and every claim, start and finish of every process waited 10-20 ms behind it. Instead each
process that writes has a checkpointer thread (``_Checkpointer``) that copies the WAL into
the database every second, outside the write lock, in ``PASSIVE`` mode: it never waits for
a writer or a reader, and none waits for it.

SQLite starts the WAL over only when a write begins with every frame of it copied, which
under a steady stream of writes never happens by itself: the WAL grew by about 30 kB per
submitted task, gigabytes within minutes, and every read slowed down as it grew. So once the
WAL holds ``WAL_LIMIT_FRAMES``, the checkpointer copies what is left outside the lock until
little is, then copies that last bit holding the write lock (a few hundred pages and two
fsyncs), and the next write starts the WAL over; ``journal_size_limit`` then shrinks the file.

The runner's hot statements (``claim``, ``finish``) take numbered parameters (``?1``), not
named ones: Python's sqlite3 looks up each name with the GIL released, and under load each
release can hand the GIL to another thread.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from tasky.models import NewTask, Outcome, Task
from tasky.stores.dialect import Dialect
from tasky.stores.migrations import migrations
from tasky.stores.rows import (
    OUTCOME_COLUMNS,
    TASK_COLUMNS,
    WAITING,
    chunks,
    finish_sql,
    in_due_order,
    in_order_of,
    insert_rows,
    insert_task_sql,
    marks,
    outcome_row,
    task_from_row,
)
from tasky.stores.sql import Changed, SQLStore

INSERT_TASK = insert_task_sql("?")
"""Insert of a batch without idempotency keys: no conflict to look for."""
DIALECT = Dialect(qmark=True, greatest="max", least="min", key_conflict="(idempotency_key)")
logger = logging.getLogger(__name__)

CHECKPOINT_EVERY = 1.0
"""Seconds between two checkpoints of the WAL by a writing process."""
PAGE_SIZE = 4096
"""SQLite's default page size, which Tasky keeps: a WAL frame holds one page."""
WAL_LIMIT_FRAMES = 16_384
"""WAL frames (64 MB) from which a checkpoint makes the next write start the WAL over."""
LAST_FRAMES = 256
"""Frames written during one catch-up copy few enough that the next copy may hold the write
lock (a millisecond here); with more, another copy runs outside it first."""
CATCH_UP_PASSES = 4
BUSY_TIMEOUT = 30.0
"""Seconds a write waits for another program's write before it fails (then a 503); Tasky's
own processes take turns on ``_WriteLock`` instead."""
OUTAGE_CODES = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
)
"""Result codes (with their extended forms) of a database that cannot answer now, as
opposed to a fault of the statement."""

# The runner's hot statements, with numbered parameters (see the module's docstring).
CLAIM = (
    f"UPDATE tasks SET status = 'running', owner = ?1, lease_until = ?2,"
    f" attempts = attempts + 1, started_at = max(execute_at, ?3),"
    f" lateness = coalesce(lateness, max(execute_at, ?3) - execute_at),"
    f" queued_for = queued_for + max(execute_at, ?3) - execute_at"
    f" WHERE id IN (SELECT id FROM tasks WHERE worker = ?4 AND status IN {WAITING}"
    f" AND execute_at <= ?5 ORDER BY execute_at, id LIMIT ?6)"
    f" RETURNING {TASK_COLUMNS}"
)
FINISH_CHUNK = 100
"""Outcomes one FINISH statement ends at most (a value of each of ``OUTCOME_COLUMNS``)."""


@functools.cache
def finish_statement(count: int) -> str:
    """FINISH of ``count`` outcomes, their ``outcome_row`` values one after another. One
    statement for a batch of 4 costs a fifth less per outcome than a statement each."""
    values = ", ".join([marks(OUTCOME_COLUMNS.split(","))] * count)
    return DIALECT.sql(
        f"WITH o({OUTCOME_COLUMNS}) AS (VALUES {values}) {finish_sql('o', DIALECT.greatest)}"
        f" RETURNING {TASK_COLUMNS}"
    )


class _WriteLock:
    """Writers take turns: the threads of a process on a lock, the processes on an ``flock``
    of ``<database>-lock``. A process waiting for another's write sleeps in the kernel until
    its turn comes; SQLite's busy handler would poll, sleeping 1, 2, 5, 10 … ms between
    tries, and an HTTP process and its runner process write all the time."""

    def __init__(self, path: str):
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._fd is None:
                self._fd = self._open()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc_info) -> None:
        assert self._fd is not None  # opened by __enter__
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            error = sqlite3.OperationalError(f"cannot open {self.path}: {exc.strerror}")
            error.sqlite_errorname = "SQLITE_CANTOPEN"
            raise error from exc

    def close(self) -> None:
        """Let go of this process's file (after a fork: the parent's, which shares its lock
        with the parent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Checkpointer:
    """A thread that checkpoints the WAL every ``CHECKPOINT_EVERY`` seconds on a connection
    of its own, until ``stop``; past ``WAL_LIMIT_FRAMES``, so that the WAL starts over (see
    the module's docstring)."""

    def __init__(self, connect: Any, write_lock: _WriteLock):
        self._connect = connect
        self._write_lock = write_lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tasky-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while not self._stop.wait(CHECKPOINT_EVERY):
                try:
                    self._checkpoint(conn)
                except sqlite3.Error as exc:  # the next one may succeed; writers are unaffected
                    logger.warning("WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        busy, frames, copied = _passive_checkpoint(conn)
        if busy or frames < WAL_LIMIT_FRAMES:
            return  # another process checkpoints now; or a WAL small enough to leave be
        for _ in range(CATCH_UP_PASSES):
            # Each pass copies what was written during the one before: less each time.
            busy, latest, copied = _passive_checkpoint(conn)
            if busy or copied < latest:
                return  # a reader (a long export) holds the copy back: next time
            grown, frames = latest - frames, latest
            if grown <= LAST_FRAMES:
                break
        else:
            return  # the writes keep up with the copy: next time
        with self._write_lock:
            _passive_checkpoint(conn)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5)


def _passive_checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """Whether another checkpoint was running, the WAL's frames, and those copied."""
    return conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()


class _QueuedInsert:
    """One caller's tasks, waiting for whichever thread commits next."""

    __slots__ = ("done", "error", "result", "tasks")

    def __init__(self, tasks: list[NewTask]):
        self.tasks = tasks
        self.done = False
        self.result: list[tuple[Task, bool]] = []
        self.error: BaseException | None = None


class SQLiteStore(SQLStore):
    kind = "sqlite"
    dialect = DIALECT
    outage_errors = (sqlite3.OperationalError,)

    def is_outage(self, error: Exception) -> bool:
        return getattr(error, "sqlite_errorname", "").startswith(OUTAGE_CODES)

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._writer_conn: sqlite3.Connection | None = None
        self._checkpointer: _Checkpointer | None = None
        self._write_lock = _WriteLock(f"{path}-lock")
        self._queued_lock = threading.Lock()
        self._queued_inserts: list[_QueuedInsert] = []
        self._subscribers: list[Callable[[], None]] = []
        self._release_pending = False
        os.register_at_fork(after_in_child=self._after_fork)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._migrate()

    # -- connections ------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's reading connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @property
    def _writer(self) -> sqlite3.Connection:
        """The process's one writing connection, used under the write lock. Its page cache
        stays valid from one write to the next; a connection per thread would re-read every
        page that the other threads' writes changed."""
        if self._writer_conn is None:
            self._writer_conn = self._connect()
            self._checkpointer = _Checkpointer(self._connect, self._write_lock)
        return self._writer_conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_FRAMES * PAGE_SIZE}")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _after_fork(self) -> None:
        """Connections, locks and queued writes do not survive a fork: start afresh."""
        self._local = threading.local()
        self._writer_conn = None
        self._checkpointer = None  # the parent's thread is not in the child
        self._write_lock.close()
        self._write_lock = _WriteLock(self._write_lock.path)
        self._queued_lock = threading.Lock()
        self._queued_inserts = []
        self._subscribers = []
        self._release_pending = False

    def subscribe(self, on_change: Callable[[], None]) -> None:
        """Tasks released by this process's writes (a parent's end) wake its runner once the
        write commits; other processes' writes are found by polling."""
        self._subscribers.append(on_change)

    def _released(self, db: sqlite3.Connection) -> None:
        self._release_pending = True

    @contextmanager
    def _snapshot_connection(self) -> Iterator[Callable[[str], Iterator[tuple]]]:
        """A connection of its own in one read transaction: its first read fixes what every
        later one sees."""
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            yield lambda sql: iter(conn.execute(sql))
        finally:
            conn.close()

    def _reader(self) -> AbstractContextManager[sqlite3.Connection]:
        return nullcontext(self._db)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction."""
        with self._write_lock, self._transaction() as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, the write lock being held."""
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            self._release_pending = False
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if self._release_pending:
            self._release_pending = False
            for on_change in self._subscribers:
                on_change()

    def _change(self, sql: str, params: Any = ()) -> Changed:
        """One writing statement (its own transaction): its RETURNING rows and row count."""
        with self._write_lock:
            cursor = self._writer.execute(DIALECT.sql(sql), params)
            return Changed(cursor.fetchall(), cursor.rowcount)

    def _migrate(self) -> None:
        """Apply the numbered files of ``schema/sqlite`` above ``user_version``, in one
        transaction that several starting processes take in turn."""
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, sql in migrations("sqlite"):
                if number > version:
                    for statement in sql.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")

    def close(self) -> None:
        """Close this thread's connection and the writing one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None
        with self._write_lock:
            if self._writer_conn is not None:
                self._writer_conn.close()
            self._writer_conn = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    # -- submitting and reading -------------------------------------------------------------

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """Group commit: callers that arrive while another thread writes queue their tasks,
        and the next thread to take the write lock inserts all that are queued in one
        transaction. Under concurrent submits that saves a commit (and its WAL pages) per
        caller. A failed transaction fails every caller in it; none of their tasks is stored.
        """
        if any(new.depends_on for new in tasks):
            # Not grouped: an unknown parent fails this caller's insert only.
            with self._write() as db:
                return self._insert_tasks(db, tasks)
        mine = _QueuedInsert(tasks)
        with self._queued_lock:
            self._queued_inserts.append(mine)
        with self._write_lock:
            if not mine.done:
                with self._queued_lock:
                    group, self._queued_inserts = self._queued_inserts, []
                self._insert_group(group)
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _insert_group(self, group: list[_QueuedInsert]) -> None:
        try:
            with self._transaction() as db:
                for queued in group:
                    queued.result = self._insert_tasks(db, queued.tasks)
        except BaseException as exc:
            for queued in group:
                queued.error = exc
        finally:
            for queued in group:
                queued.done = True

    def _insert_tasks(
        self, db: sqlite3.Connection, tasks: list[NewTask]
    ) -> list[tuple[Task, bool]]:
        if any(new.idempotency_key is not None for new in tasks):
            return [self._insert_task(db, new) for new in tasks]
        rows = insert_rows(tasks)
        rows.sort()  # in id order each row lands next to the last in the primary key's index
        db.executemany(INSERT_TASK, rows)
        self._link(db, tasks)
        return [(new.as_task(), True) for new in tasks]

    # -- the runner's side ------------------------------------------------------------------

    def next_due_at(self, worker: str) -> float | None:
        return self._db.execute(
            f"SELECT min(execute_at) FROM tasks WHERE worker = ? AND status IN {WAITING}", (worker,)
        ).fetchone()[0]

    def claim(self, worker, owner, limit, due_before, now, lease_until) -> list[Task]:
        params = (owner, lease_until, now, worker, due_before, limit)
        if self._started_watched():
            rows = self._claim_announced(CLAIM, params, now)
        else:
            rows = self._change(CLAIM, params).rows
        return in_due_order(task_from_row(row) for row in rows)

    def mark_queued(self, worker: str, due_after: float, now: float) -> None:
        due_scheduled = (
            f"FROM tasks WHERE worker = ? AND status IN {WAITING} AND execute_at > ?"
            f" AND execute_at <= ? AND status = 'scheduled'"
        )
        params = (worker, due_after, now)
        if self._db.execute(f"SELECT 1 {due_scheduled} LIMIT 1", params).fetchone():
            self._change(
                f"UPDATE tasks SET status = 'queued' WHERE id IN (SELECT id {due_scheduled})",
                params,
            )

    def finish(self, outcomes: list[Outcome]) -> list[Task]:
        if not outcomes:
            return []
        finished: list[Task] = []
        with self._write() as db:
            for part in chunks(outcomes, FINISH_CHUNK):
                params = [value for o in part for value in outcome_row(o)]
                rows = db.execute(finish_statement(len(part)), params).fetchall()
                finished.extend(task_from_row(row) for row in rows)
            self._ended(db, finished, max(o.finished_at for o in outcomes))
        return in_order_of(outcomes, finished)
