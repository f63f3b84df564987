"""The runner of an HTTP process, in a process of its own: started however the app is served.

``create_app`` starts it, in whatever process loads the app: a gunicorn worker (with or
without Tasky's config file), a gunicorn master that preloads the app (its workers inherit
the handle and share the one runner), Flask's development server, waitress. The runner is a
new interpreter (``tasky runner --attach``), not a fork: it takes no thread, lock or
connection of the process that starts it, so it can start at any moment.

- Tasks no longer share the GIL with requests: the runner has one of its own.
- A single submit that arrives while other submits of this process are in flight is handed
  to the runner over ``tasky.runner.channel``, and it stores it (one blocking call for a
  request thread, where storing it here would hand the GIL between the busy request threads
  at each SQLite step); one that arrives alone is stored here (the channel's round trip costs
  several times the insert), and so are batches, then the runner is woken. When the runner
  does not answer, the HTTP process stores the task itself: nothing is lost, and the next
  runner finds it.
- The lifeline is a pipe whose write end only the HTTP processes hold: when the last of them
  is gone, the runner reads end-of-file and stops, handing its tasks back.
- A runner that dies is reported at once (log, and ``/health`` answers 503 with the reason)
  and started again after a backoff.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from tasky.config import Settings
from tasky.metrics import directory
from tasky.models import NewTask, RunnerStatus, Task
from tasky.registry import Registry
from tasky.runner.channel import ChannelClient, RunnerGone, new_address
from tasky.runner.hooks import call_hooks
from tasky.runner.runner import store_and_wake
from tasky.runner.scheduler import CLAIM_AHEAD
from tasky.stores.base import Store

logger = logging.getLogger(__name__)

RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before starting a runner again after its first, second … death in a row."""
STABLE_AFTER = 60.0
"""A runner that lived this long resets the backoff."""
START_TIMEOUT = 30.0


class RunnerProcess:
    """The engine of an HTTP process whose runner runs in a child process."""

    def __init__(self, settings: Settings, store: Store, registry: Registry):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.address = new_address()
        self.channel = ChannelClient(self.address)
        self.pid: int | None = None
        self._owner_pid: int | None = None
        """The process that started (and restarts) the runner; a forked child of it (the
        workers of a preloading gunicorn) only talks to it."""
        self._lifeline: int | None = None
        self._status = RunnerStatus("down", "the runner process is starting")
        self._stopping = threading.Event()
        self._submitting = 0
        """Single submits of this process in flight: see ``create_tasks``."""
        self._submitting_lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def start(self) -> None:
        """Start the runner process and the thread that restarts it when it dies."""
        read_end, self._lifeline = os.pipe()
        self._owner_pid = os.getpid()
        threading.Thread(
            target=self._supervise, args=(read_end,), name="tasky-runner-supervisor", daemon=True
        ).start()

    def stop(self) -> None:
        """Let go of the runner: it stops, handing its tasks back, once no HTTP process holds
        the lifeline."""
        self._stopping.set()
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        self.channel.close()

    # -- the engine, as the service sees it -------------------------------------------------

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """A single task submitted while another is in flight is handed to the runner, which
        stores it and starts it when due. One submitted alone, and a batch, are stored here,
        then the runner is woken: alone, the store's steps hand the GIL to no other request
        thread; and one request's many tasks would cost the runner's GIL their pickling, for
        one blocking call saved per request."""
        if len(tasks) != 1:
            return store_and_wake(self.store, tasks, self.wake)
        with self._submitting_lock:
            self._submitting += 1
            alone = self._submitting == 1
        try:
            return store_and_wake(self.store, tasks, self.wake) if alone else self._hand_over(tasks)
        finally:
            with self._submitting_lock:
                self._submitting -= 1

    def _hand_over(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """The runner stores the tasks; when it does not answer, they are stored here."""
        try:
            return self.channel.create_tasks(tasks, self.store.get_task)
        except RunnerGone as gone:
            logger.warning("the runner process did not answer; storing the task here")
            stored = self.store.get_task(tasks[0].id) if gone.sent else None
            if stored is not None:  # it committed the task before it went
                return [(stored, True)]
        return store_and_wake(self.store, tasks, self.wake)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        """Tell the runner, unless the tasks are due after its next full pass (every
        ``poll_interval``; twice that, for a pass that runs late) and its claim-ahead: that
        pass finds them, and the news would cost the request a wake-up of the runner process
        (a quarter of a submit's time)."""
        if worker is not None and due_at is not None and due_at > self._found_anyway_after():
            return
        self.channel.tell("wake", worker, due_at)

    def _found_anyway_after(self) -> float:
        """The instant after which a task due is found by the runner's full pass in time."""
        return time.time() + 2 * self.settings.poll_interval + CLAIM_AHEAD

    def abort(self, task_id: str) -> None:
        self.channel.tell("abort", task_id)

    def ended(self, tasks: list[Task]) -> None:
        call_hooks(self.registry, tasks)

    def status(self) -> RunnerStatus:
        if os.getpid() == self._owner_pid:
            return self._status
        if self.channel.ping():
            return RunnerStatus("running")
        return RunnerStatus("down", "the runner process does not answer")

    # -- the supervisor ---------------------------------------------------------------------

    def _supervise(self, read_end: int) -> None:
        deaths = 0
        try:
            while not self._stopping.is_set():
                started_at = time.monotonic()
                code = self._run_once(read_end)
                if self._stopping.is_set():
                    return
                deaths = 1 if time.monotonic() - started_at > STABLE_AFTER else deaths + 1
                delay = RESTART_BACKOFF[min(deaths, len(RESTART_BACKOFF)) - 1]
                reason = f"the runner process {_exit_text(code)}; restarting in {delay:g} s"
                self._status = RunnerStatus("down", reason)
                logger.error("%s (tasks wait; submits are still stored)", reason)
                self._stopping.wait(delay)
        finally:
            os.close(read_end)

    def _run_once(self, read_end: int) -> int | str:
        """Start a runner process and wait for it to exit; its exit code (as text when it
        could not start)."""
        try:
            proc = subprocess.Popen(
                self._command(read_end), env=self._environment(), pass_fds=(read_end,)
            )
        except Exception as exc:  # the supervisor must outlive any failure to start
            logger.exception("cannot start the runner process")
            return f"unknown ({exc})"
        self.pid = proc.pid
        deadline = time.monotonic() + START_TIMEOUT
        while proc.poll() is None and not self.channel.ping():
            if time.monotonic() > deadline:
                self._status = RunnerStatus("down", "the runner process does not answer")
            time.sleep(0.05)
        if proc.poll() is None:
            self._status = RunnerStatus("running")
            logger.info("runner process %d started", proc.pid)
        code = proc.wait()
        directory.mark_dead(proc.pid)
        return code

    def _command(self, read_end: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tasky",
            "runner",
            "--attach",
            self.address,
            "--lifeline",
            str(read_end),
        ]

    def _environment(self) -> dict[str, str]:
        """This process's environment, its settings as ``TASKY_*`` variables (they may have
        been given to ``create_app`` rather than read from the environment), and its import
        path, so that the runner finds the same workers."""
        env = dict(os.environ)
        env.update(settings_environment(self.settings))
        env["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
        return env

    def _after_fork(self) -> None:
        """A forked child keeps the runner's address and the lifeline, and opens its own
        connections."""
        self.channel = ChannelClient(self.address)


def _exit_text(code: int | str) -> str:
    if isinstance(code, int) and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``TASKY_*`` variables that ``Settings.from_env`` reads back."""
    env = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value is None:
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, tuple):
            text = ",".join(value)
        else:
            text = str(value)
        env["TASKY_" + field.name.upper()] = text
    return env
