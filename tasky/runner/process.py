"""The runner in a process of its own, one beside each HTTP worker process.

In the HTTP process, the runner's threads (claiming, running, storing, calling hooks) took
turns on the GIL with the request threads: every task cost a request about a quarter of a
millisecond, and a task busy in Python code slowed every answer. Forked beside the worker,
the runner has a GIL of its own, and the two share only the store.

The child is forked once the app is loaded and before any thread starts (gunicorn's
``post_worker_init``), so it shares the loaded code and takes no thread with it. The HTTP
process hands it single submits to store (``tasky.runner.channel``), and tells it of other
news through a pipe, one JSON line per message (``wake``, ``abort``), without ever waiting:
a message that does not fit is dropped, and the scheduler's next poll
(``TASKY_POLL_INTERVAL``) finds that work, as it finds the work of other processes. The
pipe is also the child's lifeline: when the HTTP process is gone, the child reads
end-of-file and stops as on SIGTERM. When the child dies, the HTTP process stops too, and
gunicorn replaces it with a new pair.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import threading
from collections.abc import Callable

from tasky.models import NewTask, Task
from tasky.runner import channel as submit_channel
from tasky.runner.channel import RunnerGone, SubmitClient
from tasky.runner.runtime import SHUTDOWN_WAIT, Runtime, store_and_wake

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
STOP_WAIT = SHUTDOWN_WAIT + 5.0
"""Seconds the HTTP process waits for its runner to hand its tasks back at a stop."""


class RunnerProcess:
    """The engine of an HTTP process whose runtime runs in a child process."""

    def __init__(self, runtime: Runtime, on_death: Callable[[], None] | None = None):
        """``on_death``: what the HTTP process does when its runner dies unasked; by
        default it stops (SIGTERM to itself), and gunicorn replaces both."""
        self.runtime = runtime
        self.on_death = on_death or (lambda: os.kill(os.getpid(), signal.SIGTERM))
        self.pid: int | None = None
        self._pipe: int | None = None
        self._submits: SubmitClient | None = None
        self._stopping = False
        self._reaped = threading.Event()

    def start(self, in_child: Callable[[], None] = lambda: None) -> None:
        """Fork the runner. ``in_child`` runs first in the child (to close what the child
        must not hold, such as the listening sockets)."""
        read_end, write_end = os.pipe()
        listener = submit_channel.listen()
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            code = 0
            try:
                in_child()
                self._serve(read_end, listener)
            except BaseException:
                logger.exception("the runner process failed")
                code = 1
            finally:
                os._exit(code)
        os.close(read_end)
        os.set_blocking(write_end, False)
        self._submits = SubmitClient(listener.getsockname())
        listener.close()
        self._pipe, self.pid = write_end, pid
        threading.Thread(target=self._reap, name="tasky-runner-reaper", daemon=True).start()
        logger.info("runner process %d started", pid)

    def stop(self) -> None:
        """Close the pipe: the runner stops, handing its tasks back. Wait for it."""
        if self._pipe is None:
            return
        self._stopping = True
        os.close(self._pipe)
        self._pipe = None
        self._submits.close()
        if not self._reaped.wait(STOP_WAIT):
            logger.error("runner process %d did not stop in %gs", self.pid, STOP_WAIT)

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """A single task is handed to the runner process, which stores it and starts it when
        due. A batch is stored here, then the runner is woken: one request's many tasks
        would cost the runner's GIL their pickling, for a blocking call saved per request.
        A task is stored here, too, when the runner process is gone (its replacement finds
        it)."""
        if self._submits is not None and len(tasks) == 1:
            try:
                return self._submits.create_tasks(tasks)
            except RunnerGone as gone:
                logger.warning("runner process %s did not answer; storing the task here", self.pid)
                stored = gone.sent and self.runtime.store.get_task(tasks[0].id)
                if stored:  # it committed the task before it went
                    return [(stored, True)]
                # A hung runner that commits later fails on the task's id (stored here);
                # one that commits just between these two lines makes this insert fail.
        return store_and_wake(self.runtime.store, tasks, self.wake)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        self._send(["wake", worker, due_at])

    def abort(self, task_id: str) -> None:
        self._send(["abort", task_id])

    # -- the HTTP process's side ------------------------------------------------------------

    def _send(self, message: list) -> None:
        pipe = self._pipe
        if pipe is None:
            return
        try:
            os.write(pipe, json.dumps(message).encode() + b"\n")
        except (BlockingIOError, BrokenPipeError):
            pass  # the runner is behind (its next poll finds the work) or gone (see _reap)

    def _reap(self) -> None:
        """Wait for the runner to exit; if it was not told to, see ``on_death``."""
        _, status = os.waitpid(self.pid, 0)
        self._reaped.set()
        if self._stopping:
            return
        if status == 0:  # told to stop by a signal of its own, as on Ctrl-C
            logger.info("runner process %d stopped; this process stops too", self.pid)
        else:
            logger.error(
                "runner process %d died (wait status %d); this process stops too", self.pid, status
            )
        self.on_death()

    # -- the runner's side ------------------------------------------------------------------

    def _serve(self, pipe: int, listener: socket.socket) -> None:
        """Run the runtime until a stop signal or the pipe's end-of-file. Signals only write
        to a wake-up pipe (a handler that took a lock could deadlock the thread it
        interrupts); this thread watches both pipes."""
        signalled, signal_end = os.pipe()
        os.set_blocking(signal_end, False)
        signal.set_wakeup_fd(signal_end)
        for number in STOP_SIGNALS:
            signal.signal(number, lambda *_: None)
        self.runtime.start()
        submit_channel.serve(listener, self.runtime.create_tasks, os.getppid())
        try:
            self._read(pipe, signalled)
        finally:
            self.runtime.stop()

    def _read(self, pipe: int, signalled: int) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([pipe, signalled], [], [])
            if signalled in ready:
                return
            data = os.read(pipe, 65536)
            if not data:
                return
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                kind, *args = json.loads(line)
                if kind == "wake":
                    self.runtime.wake(*args)
                elif kind == "abort":
                    self.runtime.abort(*args)
