"""The runner's clock: claims due tasks, hands them to the executor, keeps leases.

It sleeps until the next task is due (minus a short claim-ahead, so the executor can start
the task on the dot) or until woken, and at most ``poll_interval`` seconds. A wake that
names a worker (a submit to it, a slot of it freed) looks at that worker only, and a submit
of tasks due after the scheduler's next look at that worker wakes nothing: that look finds
them. Every ``poll_interval``, and on a wake that names none (a schedule changed, the
store's notice), a full pass looks at every worker and schedule and finds what other
processes did: their submits, cancels they flagged, expired leases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tasky.config import Settings
from tasky.errors import TriggerError
from tasky.metrics import instruments
from tasky.models import HEARTBEAT_EVERY, RUNNER_FORGET_AFTER, RunnerInfo, Task
from tasky.registry import Registry
from tasky.runner.executor import Executor
from tasky.runner.hooks import call_recovered
from tasky.runner.identity import host_id, owner_parts, process_alive
from tasky.schedules import FiringPlan, plan_firing
from tasky.stores.base import Store

logger = logging.getLogger(__name__)

CLAIM_AHEAD = 0.05
"""Seconds before ``execute_at`` at which a task is claimed, so that it starts on time."""
SCHEDULES_PER_TICK = 100
RECOVER_EVERY = 1.0
MARK_QUEUED_EVERY = 0.1
"""Seconds between two passes that mark a backlogged worker's due tasks ``queued``: a slot
that frees is filled without waiting for one more round trip."""
PRUNE_EVERY = 60.0
SWEEP_EVERY = 10.0
"""Seconds between two sweeps for blocked tasks whose parents have all ended: each end
settles its children itself, so a sweep that finds one has found a fault."""


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        executor: Executor,
        owner: str,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = store
        self.registry = registry
        self.executor = executor
        self.owner = owner
        self.clock = clock
        self._wake = threading.Event()
        self._woken_for: set[str] = set()
        self._woken_lock = threading.Lock()
        self._full_pass_at = 0.0
        self._next_look: dict[str, float] = {}
        """Per worker, when it next needs a look without being woken."""
        self._schedules_due_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed_at = self._recovered_at = self._pruned_at = self._heartbeat_at = 0.0
        self._swept_at = 0.0
        self._started_at = 0.0
        self._ticking = False
        """A tick is under way: what ``_next_look`` says may not include the newest tasks."""
        self._marked_queued_until: dict[str, float] = {}
        self._backlogged: set[str] = set()
        """Workers whose every slot was taken with more due: when a slot frees, they claim
        at once, without first asking the store when their next task is due."""

    def start(self) -> None:
        self._started_at = self.clock()
        self._heartbeat(self._started_at)
        self.recover_dead_local_owners()
        self.store.subscribe(self.wake)
        self._thread = threading.Thread(target=self._loop, name="tasky-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None:
        """Look at ``worker`` now, or at everything when none is named. A wake for new tasks
        of ``worker`` due at ``due_at`` or later is dropped when the scheduler will look at
        that worker in time anyway: that look reads the store, and finds them."""
        with self._woken_lock:
            if worker is None:
                self._full_pass_at = 0.0
            elif (
                due_at is not None
                and not self._ticking
                and due_at - CLAIM_AHEAD >= self._next_look.get(worker, float("inf"))
            ):
                return
            else:
                self._woken_for.add(worker)
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wake_at = self.tick()
            except Exception:
                logger.exception("scheduler tick failed; retrying")
                wake_at = self.clock() + self.settings.poll_interval
            self._wake.wait(max(0.0, wake_at - self.clock()))

    def tick(self) -> float:
        """Start what is due; do the periodic chores; return when to look again."""
        now = self.clock()
        with self._woken_lock:
            full_pass = now >= self._full_pass_at
            woken_for, self._woken_for = self._woken_for, set()
            self._ticking = True
        try:
            return self._tick(now, full_pass, woken_for)
        finally:
            with self._woken_lock:
                self._ticking = False

    def _tick(self, now: float, full_pass: bool, woken_for: set[str]) -> float:
        if full_pass or now >= self._schedules_due_at:
            self._schedules_due_at = self._fire_schedules(now)
        for worker in self.registry.all():
            name = worker.name
            if worker.enabled and (
                full_pass or name in woken_for or now >= self._next_look.get(name, 0.0)
            ):
                self._next_look[name] = self._dispatch(name, now)
        self.executor.publish_busy()
        if full_pass:
            self._chores(now)
            self._full_pass_at = now + self.settings.poll_interval
        wake_at = min(self._full_pass_at, self._schedules_due_at, *self._next_look.values())
        if now >= self._heartbeat_at + HEARTBEAT_EVERY:
            self._heartbeat(now)
        wake_at = min(wake_at, self._heartbeat_at + HEARTBEAT_EVERY)
        held = self.executor.running_ids()
        if held:
            renew_at = self._renewed_at + self.settings.lease / 3
            if now >= renew_at:
                self._renew(held, now)
                self._renewed_at, renew_at = now, now + self.settings.lease / 3
            wake_at = min(wake_at, renew_at)
        return wake_at

    def _renew(self, held: list[str], now: float) -> None:
        """Extend the leases; stop the tasks another runner took over (their outcome would be
        refused by the fence: it is not even sent) and those a cancel flagged."""
        report = self.store.renew_leases(self.owner, now + self.settings.lease, held)
        # A task whose attempt ended since ``held`` was read may be stored as ended already.
        for task_id in self.executor.still_running(sorted(report.lost)):
            logger.warning("task %s: lease lost to another runner; stopping it", task_id)
            self.executor.abort(task_id, "lost")
        for task_id in report.canceling:
            self.executor.abort(task_id, "canceled")

    def _fire_schedules(self, now: float) -> float:
        due_at = self.store.next_schedule_due_at()
        if due_at is None:
            return float("inf")
        if due_at > now:
            return due_at
        # A tick fires at its time, not ahead of it: ``overlap: skip`` must see whether the
        # previous run has finished by then. The run is claimed in this same pass.
        for schedule in self.store.due_schedules(now, SCHEDULES_PER_TICK):
            assert schedule.next_run_at is not None  # a due schedule has a next tick
            try:
                plan = plan_firing(schedule, now)
            except TriggerError:
                logger.exception("schedule %s has a trigger that no longer reads", schedule.id)
                plan = FiringPlan(None, None)
            firing = self.store.fire_schedule(
                schedule.id,
                schedule.next_run_at,
                plan.next_run_at,
                plan.task,
                now,
                skip_if_running=schedule.overlap == "skip",
                misfired=plan.misfired,
            )
            if firing.won:
                instruments.tick(
                    schedule.worker,
                    misfire=schedule.misfire if plan.misfired else None,
                    overlap_skipped=plan.task is not None and firing.task is None,
                )
            if firing.task is not None:  # its run is due: claim it this pass
                instruments.submitted(firing.task.worker, 1)
                self._next_look[firing.task.worker] = now
        return now

    def _dispatch(self, worker: str, now: float) -> float:
        backlogged = worker in self._backlogged
        if not backlogged:
            due_at = self.store.next_due_at(worker)
            if due_at is None:
                return float("inf")
            if due_at > now + CLAIM_AHEAD:
                return due_at - CLAIM_AHEAD
        room = self.executor.room(worker)
        if room:
            claimed = self.store.claim(
                worker, self.owner, room, now + CLAIM_AHEAD, now, now + self.settings.lease
            )
            for task in claimed:
                self.executor.start(task)
            if len(claimed) < room:
                self._backlogged.discard(worker)
                # After a claim that skipped the lookup, what is left may be due later.
                return now if claimed or backlogged else float("inf")
        # Every slot is taken and more is due: it waits as ``queued`` until a slot frees.
        self._backlogged.add(worker)
        marked_until = self._marked_queued_until.get(worker, 0.0)
        if now - marked_until >= MARK_QUEUED_EVERY:
            self.store.mark_queued(worker, marked_until, now)
            self._marked_queued_until[worker] = now
        return float("inf")

    def _chores(self, now: float) -> None:
        held = self.executor.running_ids()
        if held:
            for task_id in self.store.canceling_ids(self.owner):
                self.executor.abort(task_id, "canceled")
            self.executor.abort_overdue(now)
        if now - self._recovered_at >= RECOVER_EVERY:
            self._recovered(self.store.recover(now))
            self._recovered_at = now
        if now - self._swept_at >= SWEEP_EVERY:
            stranded = self.store.sweep_blocked(now)
            if stranded:
                logger.warning("settled %d blocked tasks left behind", len(stranded))
            self._swept_at = now
        if now - self._pruned_at >= PRUNE_EVERY:
            pruned = self.store.prune(now - self.settings.retention)
            if pruned:
                logger.info("pruned %d finished tasks", pruned)
            self.store.forget_runners(now - RUNNER_FORGET_AFTER)
            self._pruned_at = now

    def _heartbeat(self, now: float) -> None:
        """The runner's row in the store: ``/tasky/v1/runners`` lists it."""
        host, pid = owner_parts(self.owner)
        self.store.record_heartbeat(
            RunnerInfo(
                id=self.owner,
                host=host,
                pid=pid or 0,
                started_at=self._started_at,
                heartbeat_at=now,
                workers=[w.name for w in self.registry.all() if w.enabled],
                running=self.executor.running_counts(),
            )
        )
        self._heartbeat_at = now

    def recover_dead_local_owners(self) -> None:
        """At start, take back at once the tasks of processes of this host that are gone,
        rather than waiting for their leases to expire."""
        host = host_id()
        for owner in self.store.owners():
            owner_host, pid = owner_parts(owner)
            if owner_host == host and pid is not None and not process_alive(pid):
                self._recovered(self.store.recover(self.clock(), owner=owner))

    def _recovered(self, tasks: list[Task]) -> None:
        for task in tasks:
            logger.warning("task %s of a runner that stopped is now %s", task.id, task.status)
        call_recovered(self.registry, tasks)
