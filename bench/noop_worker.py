"""The benchmark's own no-op worker, loaded by the server under test with
``TASKY_PLUGINS=bench.noop_worker``.

``perform`` reads ``time.time()`` first thing and appends ``(task_id, time)`` to an in-memory
list (no system call, no formatting on the task's path: well under a microsecond, which the
benchmark measures and prints). A daemon thread of the process running the task writes the
pending records every 10 ms as lines ``<task_id> <epoch seconds>`` to
``$TASKY_BENCH_DIR/starts-<pid>.txt``, where the benchmark reads them while the server runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from tasky.worker import Worker

NAME = "benchnoop"
SLOTS = int(os.environ.get("TASKY_BENCH_SLOTS", "8"))
FLUSH_EVERY = 0.01


class StartRecorder:
    """Collects ``(task_id, t)`` in memory; a flusher thread (one per process, started with
    the first record) appends them to ``starts-<pid>.txt``."""

    def __init__(self, directory: str | None):
        self.directory = directory
        self._lock = threading.Lock()
        self._pending: deque[tuple[str, float]] = deque()
        self._pid: int | None = None
        self._path: str | None = None

    def record(self, task_id: str, started: float) -> None:
        if self._pid != os.getpid():
            self._start()
        self._pending.append((task_id, started))  # deque.append: thread-safe, no lock

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            directory = self.directory or os.environ.get("TASKY_BENCH_DIR") or "."
            self._path = os.path.join(directory, f"starts-{os.getpid()}.txt")
            self._pending = deque()
            self._pid = os.getpid()
            threading.Thread(target=self._flusher, name="bench-recorder", daemon=True).start()

    def _flusher(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY)
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, lines = self._pending, []
        with self._lock:
            while pending:  # popleft never loses an append made meanwhile
                task_id, t = pending.popleft()
                lines.append(f"{task_id} {t!r}\n")
            with open(self._path, "a", encoding="ascii") as out:
                out.write("".join(lines))


RECORDER = StartRecorder(None)


class BenchNoop(Worker):
    name = NAME
    description = "Does nothing; records when it started (Tasky's benchmark)."
    usage = f"POST /tasky/v1/workers/{NAME} {{}}"
    max_num_tasks = SLOTS

    def perform(self, config, ctx):
        RECORDER.record(ctx.task_id, time.time())


def read_starts(directory: str) -> dict[str, float]:
    """Every recorded start under ``directory``: task id → epoch seconds (the first start,
    should a task ever run twice)."""
    starts: dict[str, float] = {}
    for name in os.listdir(directory):
        if not (name.startswith("starts-") and name.endswith(".txt")):
            continue
        with open(os.path.join(directory, name), encoding="ascii") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a line being written right now
                task_id, _, t = line.partition(" ")
                started = float(t)
                if task_id not in starts or started < starts[task_id]:
                    starts[task_id] = started
    return starts


def count_starts(directory: str) -> int:
    """How many starts are recorded (cheap: counts newlines)."""
    total = 0
    for name in os.listdir(directory):
        if name.startswith("starts-") and name.endswith(".txt"):
            with open(os.path.join(directory, name), "rb") as f:
                total += f.read().count(b"\n")
    return total
