"""Runs claimed tasks on threads: per-worker slots, cooperative abort, timeouts, retries.

A task arrives already claimed (``running`` under this runner's lease). Its thread waits for
the exact ``execute_at`` (the scheduler claims a little ahead), runs ``perform`` and hands
the outcome to the recorder thread, which stores the outcomes of many tasks in one
transaction (group commit), then passes the stored tasks to the hooks thread. A slot is free
again as soon as ``perform`` returns.

Every hand-off between threads is a wake-up, and at thousands of tasks a second wake-ups are
most of a slot's cost: the recorder is woken by the first outcome of a batch and by the one
that ends it, not by each; the busy-slot gauge is written once per scheduler pass.
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma

from tasky import jsontext
from tasky.config import Settings
from tasky.metrics import instruments
from tasky.models import Outcome, Task, TaskState
from tasky.registry import Registry
from tasky.runner.hooks import run_hook
from tasky.stores.base import Store
from tasky.worker import Aborted, RunContext, TaskFailed

logger = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0
RECORD_BATCH = 500
GROUP_COMMIT_WAIT = 0.002
"""Seconds the recorder waits after an outcome for more, while other attempts run: one
transaction then stores several. Writes to the store take turns, and a transaction costs
about as much as the task's claim, so at a thousand tasks a second this halves the writes
of their ends, for two milliseconds more before an end is stored (never before a slot is
free again: that is when ``perform`` returns)."""
RECORD_RETRY = 1.0
"""Seconds between tries to store outcomes while the store fails; an outcome never stored
is recovered when its lease expires, like a crash's."""
QUEUE_UNDER = 0.01
"""Seconds. After ``QUICK_STREAK`` attempts of a worker in a row have each run shorter than
this, its runner takes up to ``QUEUE_DEPTH`` times its slots' number of tasks more than it
has free slots, and queues them: a slot that frees takes the next one at once instead of
waiting for the scheduler's next claim, and one claim takes several tasks. Such a task is
``running`` in the store while it waits for its slot, a few attempts of its worker. An
attempt that takes longer ends the streak: the worker queues nothing more until a new
streak, and its tasks wait in the store, free for any runner, until a slot is free for
them."""
QUEUE_DEPTH = 3
"""Queued tasks per slot of a quick worker. Each claim is a write transaction that competes
with the recorder's for the write lock and with the slots for the interpreter. With 4 slots
whose body is one Redis call, a queue of 1 per slot took 3.6 tasks a claim and ran about
1,950 tasks/s; 3 per slot took 7.7 a claim and ran about 2,300; 4 and 6 added 2 and 4 %
more. A queued task waits at most ``QUEUE_DEPTH`` attempts of under ``QUEUE_UNDER`` each."""
QUICK_STREAK = 20
"""Quick attempts in a row before a worker queues: a worker whose first calls are slow (a
connection to open) queues once they are done, and one whose tasks are now and then slow
does not queue behind them."""
UNRECORDED_REASONS = frozenset({"shutdown", "lost"})
"""Aborts whose outcome is not stored: at a shutdown the runner hands its tasks back through
recovery; a lost lease means another runner has the task now."""


@dataclass
class _Running:
    task: Task
    abort_event: threading.Event = field(default_factory=threading.Event)
    reason: str | None = None
    """Why it was aborted: ``canceled``, ``timeout``, ``shutdown`` or ``lost`` (the lease)."""
    started_at: float | None = None
    ran_for: float | None = None
    """Seconds its attempt ran (the config's load and ``perform``), once it has."""
    ended: bool = False
    """Its outcome is on its way to the store: from then on the store may no longer show the
    lease held, and that is no loss."""


class Executor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        owner: str,
        on_slot_free: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.owner = owner
        self.on_slot_free = on_slot_free
        self.clock = clock
        self._lock = threading.Lock()
        self._slots = {w.name: w.max_num_tasks for w in registry.all()}
        self._free = dict(self._slots)
        self._queued: dict[str, collections.deque[_Running]] = {
            worker: collections.deque() for worker in self._slots
        }
        """Per worker, claimed tasks waiting for one of its slots (under ``_lock``)."""
        self._streak = dict.fromkeys(self._slots, 0)
        """Per worker, its attempts in a row that ran shorter than ``QUEUE_UNDER``."""
        for worker, slots in self._slots.items():
            instruments.slots(worker, slots)
        self._running: dict[str, _Running] = {}
        self._threads = 0
        """Task threads started (under ``_lock``)."""
        self._waiting = 0
        """Task threads free for a run not yet handed out (under ``_lock``): with none, a
        run starts one more (at most one per slot, as at most one run per slot is out)."""
        self._hooked = {w.name for w in registry.all() if w.has_hooks()}
        self._loggers = {w.name: logging.getLogger(f"tasky.task.{w.name}") for w in registry.all()}
        self._busy_published = dict.fromkeys(self._free, 0)
        self._runs: queue.SimpleQueue[_Running | None] = queue.SimpleQueue()
        self._timings: collections.deque[tuple[str, float, float, float]] = collections.deque()
        """Each attempt's (worker, due, started, finished), for the recorder to observe: the
        histograms are written by one thread, not contended by every slot."""
        self._outcomes = GroupCommit(GROUP_COMMIT_WAIT, RECORD_BATCH)
        self._finished: queue.SimpleQueue[list[Task] | None] = queue.SimpleQueue()
        self._recorder = threading.Thread(
            target=self._record_outcomes, name="tasky-recorder", daemon=True
        )
        self._hooks = threading.Thread(target=self._call_hooks, name="tasky-hooks", daemon=True)
        self._recorder.start()
        self._hooks.start()

    def room(self, worker: str) -> int:
        """How many more tasks of ``worker`` this runner takes now: its free slots, and for a
        worker whose last attempts were quick, ``QUEUE_DEPTH`` per slot to queue, less those
        queued (``QUEUE_UNDER``)."""
        free = self._free.get(worker, 0)
        if self._streak.get(worker, 0) < QUICK_STREAK:
            return free
        return free + QUEUE_DEPTH * self._slots[worker] - len(self._queued[worker])

    def running_counts(self) -> dict[str, int]:
        """Tasks running now, per worker that runs any."""
        with self._lock:
            runs = [run.task.worker for run in self._running.values()]
        return {worker: runs.count(worker) for worker in sorted(set(runs))}

    def publish_busy(self) -> None:
        """Set the busy-slot gauges to what they are now, where that changed. The scheduler
        calls it on each pass, and every slot that frees wakes it: the gauge is at most a
        pass behind, for one write per pass instead of two per task."""
        for worker, free in list(self._free.items()):
            busy = self._slots[worker] - free
            if self._busy_published[worker] != busy:
                self._busy_published[worker] = busy
                instruments.slots_busy(worker, busy)

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def still_running(self, task_ids: Iterable[str]) -> list[str]:
        """Those of ``task_ids`` whose attempt has not ended yet."""
        with self._lock:
            return [i for i in task_ids if (run := self._running.get(i)) and not run.ended]

    def start(self, task: Task) -> None:
        """Run a task this runner has claimed, in a free slot or, with none free, queued for
        the next to free; the caller claimed at most ``room``."""
        run = _Running(task)
        self._outcomes.begin()
        with self._lock:
            self._running[task.id] = run
            if not self._free[task.worker]:
                self._queued[task.worker].append(run)  # the next slot of it to free takes it
                return
            self._free[task.worker] -= 1
            grow = self._waiting == 0  # else a waiting thread takes it
            if grow:
                self._threads += 1
                name = f"tasky-task-{self._threads}"
            else:
                self._waiting -= 1
        if grow:
            threading.Thread(target=self._task_thread, name=name, daemon=True).start()
        self._runs.put(run)

    def abort(self, task_id: str, reason: str) -> None:
        with self._lock:
            run = self._running.get(task_id)
        if run is not None and run.reason is None:
            run.reason = reason
            run.abort_event.set()

    def abort_overdue(self, now: float) -> None:
        """Abort every task running past its ``timeout``."""
        with self._lock:
            runs = list(self._running.values())
        for run in runs:
            timeout = run.task.timeout
            if (
                timeout is not None
                and run.started_at is not None
                and now - run.started_at >= timeout
            ):
                self.abort(run.task.id, "timeout")

    def shutdown(self, wait: float) -> None:
        """Abort the tasks in slots and give the threads ``wait`` seconds to stop; store the
        outcomes of tasks that finished meanwhile. Aborted tasks' outcomes are not stored:
        the runner hands them back through the store's recovery. Queued tasks are not
        aborted: they are quick, and run as slots free within ``wait`` (any left then are
        handed back too)."""
        with self._lock:
            queued = {run.task.id for run in self._queued_runs()}
        for task_id in self.running_ids():
            if task_id not in queued:
                self.abort(task_id, "shutdown")
        deadline = time.monotonic() + wait
        while self.running_ids() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._drop_waiting_runs()
        self._outcomes.stop()
        self._recorder.join(max(0.0, deadline - time.monotonic()) + 1.0)
        self._hooks.join(1.0)

    def _drop_waiting_runs(self) -> None:
        """Runs not started by now never start (the store's recovery hands them back), and
        each task thread is told to end."""
        while True:
            try:
                self._runs.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            threads = self._threads
            queued = self._queued_runs()
            for runs in self._queued.values():
                runs.clear()
            for run in queued:
                del self._running[run.task.id]
        for _ in queued:
            self._outcomes.end(None)
        for _ in range(threads):
            self._runs.put(None)

    def _queued_runs(self) -> list[_Running]:
        """Every worker's queued runs (the caller holds ``_lock``)."""
        return [run for runs in self._queued.values() for run in runs]

    # -- one attempt ----------------------------------------------------------------------------

    def _task_thread(self) -> None:
        """A task thread: runs what ``start`` hands it, one at a time, until told to end.
        A queue and a few threads, not a pool of futures: no future, condition or semaphore
        to make for each task."""
        while (run := self._runs.get()) is not None:
            next_run: _Running | None = run
            while next_run is not None:
                next_run = self._run(next_run)
            with self._lock:
                self._waiting += 1

    def _run(self, run: _Running) -> _Running | None:
        """One attempt; the queued run its slot takes next, if any."""
        task = run.task
        outcome = None
        next_run = None
        try:
            outcome = self._attempt(run)
            run.ended = True
            if run.reason in UNRECORDED_REASONS:
                outcome = None
        except Exception:
            logger.exception("task %s: the executor failed", task.id)
        finally:
            with self._lock:
                del self._running[task.id]
                if run.ran_for is not None:  # the worker's quick attempts in a row
                    quick = run.ran_for < QUEUE_UNDER
                    self._streak[task.worker] = self._streak[task.worker] + 1 if quick else 0
                if self._queued[task.worker]:
                    next_run = self._queued[task.worker].popleft()
                else:
                    self._free[task.worker] += 1
            self._outcomes.end(outcome)
            self.on_slot_free(task.worker)  # a slot, or room in the queue
        return next_run

    def _record_outcomes(self) -> None:
        """The recorder thread: store waiting outcomes in batches, until told to stop."""
        while True:
            outcomes, stopping = self._outcomes.next_batch()
            self._observe_timings()
            if outcomes and (finished := self._store(outcomes, retry=not stopping)):
                instruments.ended(finished)
                if hooked := [task for task in finished if task.worker in self._hooked]:
                    self._finished.put(hooked)
            if stopping:
                self._finished.put(None)
                return

    def _observe_timings(self) -> None:
        while self._timings:
            instruments.attempt(*self._timings.popleft())

    def _store(self, outcomes: list[Outcome], retry: bool) -> list[Task]:
        while True:
            try:
                return self.store.finish(outcomes)
            except Exception:
                logger.exception("could not store %d outcomes", len(outcomes))
                if not retry:
                    return []
                time.sleep(RECORD_RETRY)

    def _call_hooks(self) -> None:
        """The hooks thread: each stored task's hook, in order, away from the recorder. Tasks
        arrive a stored batch at a time: one wake-up of this thread per batch, and none for a
        batch whose workers have no hooks."""
        while (tasks := self._finished.get()) is not None:
            for task in tasks:
                run_hook(self.registry, task)

    def _attempt(self, run: _Running) -> Outcome:
        task = run.task
        worker = self.registry.get(task.worker)
        log = logging.LoggerAdapter(self._loggers[task.worker], {"task_id": task.id})
        inputs = self.store.task_inputs(task.id) if task.depends_on else {}
        ctx = RunContext(task.id, task.attempts, run.abort_event, log, inputs)
        output: Any = None
        error: str | None = None
        failed = False
        delay = task.execute_at - self.clock()
        # A due task's check costs a flag read; Event.wait(0) would build a lock to wait on.
        if not (run.abort_event.wait(delay) if delay > 0 else run.abort_event.is_set()):
            run.started_at = self.clock()
            try:
                config = worker.load_config(task.config)
                if task.config_template is not None:  # resolved on release: never validated
                    config = worker.validate(config)
                output = worker.perform(config, ctx)
            except Aborted:
                if run.reason is None:
                    failed, error = True, "aborted by the worker"
            except TaskFailed as exc:
                failed, error, output = True, exc.error, exc.output
            except ma.ValidationError as exc:
                failed, error = True, f"invalid config: {exc.messages}"
            except Exception as exc:
                log.warning("task %s failed", task.id, exc_info=True)
                failed, error = (
                    True,
                    f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                )
        finished_at = self.clock()
        if run.started_at is not None:
            self._timings.append((task.worker, task.execute_at, run.started_at, finished_at))
            run.ran_for = finished_at - run.started_at
        if run.reason == "canceled":
            return self._outcome(task, TaskState.CANCELED, finished_at, output, error)
        if run.reason == "timeout":
            failed, error = True, f"timed out after {task.timeout:g}s"
        if not failed:
            return self._outcome(task, TaskState.COMPLETED, finished_at, output, None)
        # Whether a retry follows is the store's to decide, by the rule recovery follows too;
        # this is when it would be due.
        retry_at = finished_at + backoff(task.retry_backoff, task.attempts)
        return self._outcome(task, TaskState.FAILED, finished_at, output, error, retry_at)

    def _outcome(
        self,
        task: Task,
        status: TaskState,
        finished_at: float,
        output: Any,
        error: str | None,
        retry_at: float | None = None,
    ) -> Outcome:
        output_json, truncated = self._bounded(output)
        return Outcome(
            task.id,
            self.owner,
            task.attempts,
            status,
            finished_at,
            output_json,
            truncated,
            error,
            retry_at,
        )

    def _bounded(self, output: Any) -> tuple[str | None, bool]:
        """The output's JSON text as stored (values JSON cannot hold become strings; an output
        JSON cannot hold at all, such as a dict with tuple keys, its string form). Past
        ``TASKY_OUTPUT_LIMIT`` bytes, the first bytes of that text are kept, as a JSON string,
        flagged truncated."""
        if output is None:
            return None, False
        try:
            text = jsontext.dumps(output, default=str)
        except (TypeError, ValueError):  # keys JSON cannot hold, a cycle: its string form
            text = jsontext.dumps(str(output))
        encoded = text.encode()
        if len(encoded) <= self.settings.output_limit:
            return text, False
        return jsontext.dumps(encoded[: self.settings.output_limit].decode(errors="ignore")), True


class GroupCommit:
    """Outcomes waiting for the recorder, and the attempts under way that may add to them.

    The recorder takes a batch once its first outcome has waited ``wait`` seconds, once no
    attempt is under way (no more could come), once it holds ``limit`` outcomes, or at the
    stop. Only the outcome that starts a batch and the one that completes it wake the
    recorder."""

    def __init__(self, wait: float, limit: int):
        self.wait = wait
        self.limit = limit
        self._ready = threading.Condition(threading.Lock())
        self._pending: list[Outcome] = []
        self._under_way = 0
        self._stopping = False

    def begin(self) -> None:
        """An attempt starts: its outcome may join the batch being gathered."""
        with self._ready:
            self._under_way += 1

    def end(self, outcome: Outcome | None) -> None:
        """An attempt ended, with its outcome to store or none (not stored)."""
        with self._ready:
            self._under_way -= 1
            if outcome is not None:
                self._pending.append(outcome)
            if self._pending and (len(self._pending) == 1 or self._complete()):
                self._ready.notify()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify()

    def next_batch(self) -> tuple[list[Outcome], bool]:
        """The next batch to store (empty only at the stop), and whether this is the stop:
        no more batches come after it."""
        with self._ready:
            while not self._pending and not self._stopping:
                self._ready.wait()
            deadline = time.monotonic() + self.wait
            while not self._complete() and (left := deadline - time.monotonic()) > 0:
                self._ready.wait(left)
            batch = self._pending[: self.limit]
            del self._pending[: self.limit]
            return batch, self._stopping and not self._pending

    def _complete(self) -> bool:
        return self._stopping or self._under_way == 0 or len(self._pending) >= self.limit


def backoff(base: float, attempt: int) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(attempt-1)``,
    capped at an hour."""
    delay = min(base * 2 ** (attempt - 1), MAX_BACKOFF)
    return delay * random.uniform(0.5, 1.0)
