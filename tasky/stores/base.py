"""The store interface. Its docstrings are the contract every implementation keeps.

Rules every implementation follows:
- Each method that changes state is one atomic transition: callers never read a row and
  write it back.
- ``now`` is always a parameter; a store never reads the clock.
- Work held by a runner is fenced by (task id, owner, attempt): a runner whose lease was
  taken over cannot overwrite the newer attempt.
- A cancel of a running task is a flag (``canceling``) the owner learns from
  :meth:`Store.canceling_ids`; the store itself never stops anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from typing import Any

from tasky.chain_runs import ChainRun
from tasky.models import (
    Chain,
    ChainPage,
    Firing,
    LeaseReport,
    NewTask,
    Outcome,
    RunnerInfo,
    Schedule,
    SchedulePage,
    ScheduleState,
    Task,
    TaskFilter,
    TaskPage,
    WorkerCounts,
)
from tasky.stores.backup import Restored, Snapshot


class Store(ABC):
    kind: str
    """``sqlite`` or ``postgresql``, as ``/health`` reports it."""
    outage_errors: tuple[type[Exception], ...] = ()
    """The driver's errors that may mean the database cannot answer now: unreachable, busy
    past the wait, out of space (an answer of 503, not a server fault). ``is_outage`` tells
    which of them do."""

    def is_outage(self, error: Exception) -> bool:
        """Whether ``error``, one of ``outage_errors``, is an outage rather than a fault."""
        return True

    # -- submitting and reading -------------------------------------------------------------

    @abstractmethod
    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """Insert all tasks in one transaction; for each, ``(task, created)``. A task whose
        ``idempotency_key`` is already stored is not inserted: the stored one comes back with
        ``created`` False."""

    @abstractmethod
    def get_task(self, task_id: str) -> Task | None:
        """The full record, or None."""

    @abstractmethod
    def list_tasks(self, filters: TaskFilter, limit: int, cursor: str | None) -> TaskPage:
        """Newest first, keyset-paginated: ``cursor`` is the previous page's ``next_cursor``.
        Items carry no ``config`` or ``output``. Raises ``InvalidInput`` for a bad cursor."""

    @abstractmethod
    def worker_counts(self, worker: str) -> WorkerCounts:
        """Counts by status, finished attempts' durations and the last finish of a worker."""

    @abstractmethod
    def unfinished_counts(self) -> list[tuple[str, str, int]]:
        """``(worker, status, tasks)`` for each worker and state that is not final and holds
        tasks, ordered by worker, then state."""

    # -- the runner's side ------------------------------------------------------------------

    @abstractmethod
    def next_due_at(self, worker: str) -> float | None:
        """The earliest ``execute_at`` among the worker's waiting (scheduled or queued) tasks."""

    @abstractmethod
    def claim(
        self, worker: str, owner: str, limit: int, due_before: float, now: float, lease_until: float
    ) -> list[Task]:
        """Atomically move up to ``limit`` waiting tasks of ``worker`` due before
        ``due_before`` (earliest first) to ``running`` under ``owner``'s lease, counting an
        attempt. A task's start is ``max(now, execute_at)``: a runner may claim slightly
        ahead and start it at its due time. Each task is claimed by exactly one caller."""

    @abstractmethod
    def mark_queued(self, worker: str, due_after: float, now: float) -> None:
        """Scheduled tasks of ``worker`` that fell due after ``due_after`` and by ``now`` but
        are unclaimed (no free slot) become ``queued``. The range keeps each call's cost to
        the tasks that fell due since the caller's last call."""

    @abstractmethod
    def renew_leases(self, owner: str, lease_until: float, held: Collection[str]) -> LeaseReport:
        """Extend the lease of every task ``owner`` holds. Of ``held`` (the ids the runner
        believes it holds), report those it holds no more (``lost``: recovered by another
        runner after the lease expired) and those a cancel flagged (``canceling``)."""

    @abstractmethod
    def canceling_ids(self, owner: str) -> list[str]:
        """Ids of tasks ``owner`` holds that a cancel has flagged ``canceling``."""

    @abstractmethod
    def finish(self, outcomes: list[Outcome]) -> list[Task]:
        """Record attempts' ends in one transaction; the tasks as stored now, for those whose
        fence (id, owner, attempt) still held. A task flagged ``canceling`` ends ``canceled``
        whatever the outcome; a failed one with retries left (``attempts <= max_retries``, the
        rule :meth:`recover` follows too) goes back to ``scheduled`` at ``retry_at``."""

    @abstractmethod
    def recover(self, now: float, owner: str | None = None) -> list[Task]:
        """Take back held tasks whose lease expired before ``now`` (or, with ``owner``, every
        task that owner holds): retried now if retries are left, else ``failed`` with error
        ``interrupted``; a ``canceling`` one ends ``canceled``. Returns the recovered tasks."""

    @abstractmethod
    def owners(self) -> set[str]:
        """Owners that hold tasks now."""

    @abstractmethod
    def prune(self, finished_before: float) -> int:
        """Delete terminal tasks finished before that instant; how many went."""

    # -- dependencies ---------------------------------------------------------------------
    # A task created with ``depends_on`` is ``blocked`` until its parents have ended; every
    # transition that ends a task (finish, cancel, recover, a deleted schedule's cancels, a
    # skip) releases or skips its blocked children in the same transaction, by their
    # ``run_if`` rule: released to ``scheduled`` or ``queued`` (its ``$from`` references
    # resolved, or ``failed`` naming a path with no value), or ``skipped`` with a
    # ``skip_reason`` as soon as the rule can no longer hold. ``create_tasks`` raises
    # ``InvalidInput`` (storing none) for a parent that is not stored, and settles at once a
    # task whose parents have all ended. ``prune`` keeps a parent while a child is unfinished.

    @abstractmethod
    def task_inputs(self, task_id: str) -> dict[str, dict[str, Any]]:
        """The results ``{status, output, error}`` of a task's parents, keyed by step name
        for parents in the task's chain, else by task id."""

    @abstractmethod
    def sweep_blocked(self, now: float) -> list[str]:
        """Settle blocked tasks whose parents have all ended (none, in a healthy store); the
        ids it settled."""

    # -- chains ------------------------------------------------------------------------------
    # A chain's steps are tasks whose ``chain_id`` is the chain's, wired by their
    # ``depends_on`` like any dependent task. With ``failure_policy`` ``cancel_all``, the
    # transition that fails a step cancels every unfinished step of its chain.

    @abstractmethod
    def create_chain(self, chain: Chain, steps: list[NewTask]) -> tuple[Chain, bool]:
        """Store the chain and its steps in one transaction, all or nothing; ``(chain,
        created)``. A chain whose ``idempotency_key`` is stored is not created: the stored
        one comes back with ``created`` False."""

    @abstractmethod
    def get_chain(self, chain_id: str) -> Chain | None:
        """The chain, or None."""

    @abstractmethod
    def list_chains(self, limit: int, cursor: str | None, name: str | None = None) -> ChainPage:
        """Newest first, keyset-paginated like :meth:`list_tasks`; ``name`` filters."""

    @abstractmethod
    def chain_steps(self, chain_id: str) -> list[Task]:
        """The chain's steps, in the order they were given."""

    @abstractmethod
    def chain_counts(self, chain_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per chain, how many of its steps are in each state."""

    @abstractmethod
    def cancel_chain(self, chain_id: str, now: float) -> list[Task]:
        """Cancel every unfinished step (``canceled`` now, a running one flagged
        ``canceling``), record the cancel on the chain, and settle what depends on the
        steps; the steps it changed. Raises ``ChainNotFound``."""

    @abstractmethod
    def retry_chain(self, chain_id: str, now: float) -> list[Task]:
        """Run again the failed, canceled and skipped steps of a finished chain and every step
        that depends on them, in place (same ids, attempts from 0, configs as submitted);
        completed steps that they do not depend on keep their outputs. The steps it reset.
        Raises ``ChainNotFound``, or ``StateConflict`` while a step is unfinished or when
        none is to run again."""

    @abstractmethod
    def delete_chain(self, chain_id: str) -> None:
        """Remove the chain and its steps once every step has ended. Raises
        ``ChainNotFound`` or ``StateConflict``."""

    # -- transitions asked for by clients -------------------------------------------------

    @abstractmethod
    def cancel(self, task_id: str, now: float) -> Task:
        """Waiting or paused: ``canceled``. Running: flagged ``canceling``. Raises
        ``TaskNotFound``, or ``StateConflict`` for a terminal task."""

    @abstractmethod
    def update_waiting(self, task_id: str, changes: dict[str, Any], now: float) -> Task:
        """Change fields of a task that has not started (scheduled, queued, paused).
        A new ``execute_at`` makes it scheduled or queued as it falls due. Raises
        ``TaskNotFound`` or ``StateConflict``."""

    @abstractmethod
    def pause(self, task_id: str) -> Task:
        """Scheduled or queued: ``paused``. Raises ``TaskNotFound`` or ``StateConflict``."""

    @abstractmethod
    def resume(self, task_id: str, now: float) -> Task:
        """Paused: back to scheduled (or queued when due). Raises as :meth:`pause`."""

    @abstractmethod
    def run_now(self, task_id: str, now: float) -> Task:
        """Scheduled, queued or paused: due now. Raises as :meth:`pause`."""

    @abstractmethod
    def delete_task(self, task_id: str) -> None:
        """Remove a terminal task. Raises ``TaskNotFound`` or ``StateConflict``."""

    # -- schedules -------------------------------------------------------------------------------
    # The store persists what the scheduler computes: it never reads a trigger.

    @abstractmethod
    def create_schedule(self, schedule: Schedule) -> Schedule:
        """Insert a schedule (``runs`` 0, no last run) and return it as stored."""

    @abstractmethod
    def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule, or None."""

    @abstractmethod
    def list_schedules(self, limit: int, cursor: str | None) -> SchedulePage:
        """Newest first, keyset-paginated like :meth:`list_tasks`."""

    @abstractmethod
    def update_schedule(
        self, schedule_id: str, changes: dict[str, Any], expect_status: ScheduleState | None = None
    ) -> Schedule:
        """Set the given fields (those of :class:`Schedule` but ``id``, ``created_at`` and the
        run counters) in one statement. Raises ``ScheduleNotFound``, or ``StateConflict`` when
        ``expect_status`` is given and the schedule is in another state."""

    @abstractmethod
    def delete_schedule(self, schedule_id: str, now: float) -> list[Task]:
        """Remove the schedule and cancel its tasks that have not started (scheduled, queued,
        paused, blocked); started and finished ones are kept. Returns the canceled tasks. Raises
        ``ScheduleNotFound``."""

    @abstractmethod
    def next_schedule_due_at(self) -> float | None:
        """The earliest ``next_run_at`` of an active schedule."""

    @abstractmethod
    def due_schedules(self, due_before: float, limit: int) -> list[Schedule]:
        """Active schedules whose ``next_run_at`` is before ``due_before``, earliest first."""

    @abstractmethod
    def fire_schedule(
        self,
        schedule_id: str,
        due_at: float,
        next_run_at: float | None,
        task: NewTask | ChainRun | None,
        now: float,
        skip_if_running: bool,
        misfired: bool = False,
    ) -> Firing:
        """Claim one tick, atomically: only if the schedule is active and its ``next_run_at``
        still equals ``due_at`` (compare-and-set, so each tick fires exactly once across every
        process), move ``next_run_at`` on and, in the same transaction, insert ``task``
        (counted in ``runs``, ``last_run_at`` = ``now``, ``last_task_id``). With
        ``skip_if_running`` the task is not inserted while the schedule's last task has not
        finished (for a chain schedule: while a step of its last chain has not); the tick is
        consumed all the same. ``task`` may be a chain run: its chain and steps are stored,
        and ``last_task_id`` is its first step. ``won`` False: another caller had it. A
        ``misfired`` tick (late, after downtime) stores its ``schedule.misfired`` webhook
        deliveries in the same transaction."""

    @abstractmethod
    def run_schedule_now(self, schedule_id: str, task: NewTask | ChainRun, now: float) -> Task:
        """Insert ``task`` as a run of the schedule outside its trigger (``next_run_at`` is
        kept). Raises ``ScheduleNotFound``."""

    # -- backups ---------------------------------------------------------------------------

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[Snapshot]:
        """A consistent read of every chain, schedule and task, taken while writes go on: what
        :class:`Snapshot` reads is the store as it was at one instant."""

    @abstractmethod
    def restore(
        self, chains: list[tuple], schedules: list[tuple], tasks: list[tuple]
    ) -> tuple[Restored, Restored, Restored]:
        """Insert chain, schedule and task rows (their columns in the order of the model's
        fields, JSON values as text) in one transaction, leaving out each row whose id is
        stored already, or whose idempotency key another holds; a task that waits for others
        gets its dependency edges. Returns what became of the chains', schedules' and tasks'
        ids."""

    # -- runners ---------------------------------------------------------------------------

    @abstractmethod
    def record_heartbeat(self, runner: RunnerInfo) -> None:
        """Insert or replace the runner's row (keyed by ``runner.id``)."""

    @abstractmethod
    def remove_runner(self, runner_id: str) -> None:
        """Delete a runner's row (a clean stop); no error when there is none."""

    @abstractmethod
    def list_runners(self) -> list[RunnerInfo]:
        """Every runner row, ordered by host, then pid."""

    @abstractmethod
    def forget_runners(self, heartbeat_before: float) -> int:
        """Delete the rows of runners whose last heartbeat is before that instant; how many."""

    # -- the dashboard -----------------------------------------------------------------------

    @abstractmethod
    def live_tasks(self, finished_after: float, limit: int) -> list[Task]:
        """List items (no config or output) of the tasks running or canceling, of at most
        ``limit`` tasks finished at or after ``finished_after`` (the latest first), and of the
        newest task; one task may come twice. The live feed's one query."""

    @abstractmethod
    def task_counts(self) -> dict[tuple[str, str], int]:
        """How many tasks each (worker, status) has. Reads every row: callers keep it."""

    @abstractmethod
    def finished_since(self, since: float, limit: int) -> list[tuple[str, float, float | None]]:
        """(status, finished_at, lateness) of at most ``limit`` tasks finished at or after
        ``since``, the latest first."""

    @abstractmethod
    def count_matching(
        self, filters: TaskFilter, max_id: str | None
    ) -> tuple[dict[str, int], str | None]:
        """How many tasks of the filter (with an id at most ``max_id``) each status has, and
        the newest id among them (None when none matches)."""

    @abstractmethod
    def act_on_matching(
        self,
        filters: TaskFilter,
        action: str,
        max_id: str,
        before_id: str | None,
        limit: int,
        now: float,
    ) -> list[Task]:
        """One page of a bulk action (``tasky.bulk.BULK_ACTIONS``), one statement: the
        ``limit`` newest tasks of the filter with an id at most ``max_id`` (and below
        ``before_id``) in a state the action fits are changed as the one-task transition would
        change them (``delete`` removes them); answers them as they are now (as they were,
        for ``delete``). A cancel leaves a running task ``canceling``."""

    # -- housekeeping -----------------------------------------------------------------------

    def subscribe(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change`` (from any thread) whenever another process may have added due
        work or flagged a cancel, so runners need not wait for their next poll. A store that
        cannot tell of other processes (SQLite) calls it for the tasks its own process's
        writes released (a parent's end), and relies on polling for the rest."""
        return None

    @abstractmethod
    def ping(self) -> None:
        """Raise if the database cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release this process's connections."""
