"""What a schedule means in time: its trigger, and what firing one tick does.

The service and the scheduler both use this module; the store only persists its results.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasky.chain_runs import ChainRun, chain_run
from tasky.ids import new_id
from tasky.models import NewTask, Schedule
from tasky.triggers import make_trigger

MISFIRE_GRACE = 1.0
"""A tick fired more than this many seconds after its time was missed (downtime): the
schedule's ``misfire`` policy decides between one catch-up run and none."""

OVERLAP_POLICIES = ("skip", "allow")
MISFIRE_POLICIES = ("run_once", "skip")


def trigger_of(schedule: Schedule):
    return make_trigger(
        schedule.cron,
        schedule.interval,
        schedule.timezone,
        schedule.start_at,
        schedule.end_at,
        schedule.created_at,
    )


def run_of(schedule: Schedule, execute_at: float, now: float) -> NewTask | ChainRun:
    """The task (or, for a chain schedule, the chain) one firing of the schedule creates."""
    if schedule.chain is not None:
        return chain_run(schedule.chain, execute_at, now, schedule_id=schedule.id)
    return NewTask(
        id=new_id(now),
        worker=schedule.worker,
        config=schedule.config,
        execute_at=execute_at,
        created_at=now,
        timeout=schedule.timeout,
        max_retries=schedule.max_retries,
        retry_backoff=schedule.retry_backoff,
        schedule_id=schedule.id,
    )


@dataclass(frozen=True)
class FiringPlan:
    next_run_at: float | None
    task: NewTask | ChainRun | None
    misfired: bool = False
    """The tick fired late, after downtime: ``misfire`` decided ``task``."""


def plan_firing(schedule: Schedule, now: float) -> FiringPlan:
    """Fire the tick at ``schedule.next_run_at`` (set, and ``now`` at or after it). On time,
    the run is due at the tick and the next tick follows it. After downtime, the missed
    ticks collapse into one run now (``misfire: run_once``) or none (``skip``), and the next
    tick is the first one after now."""
    tick = schedule.next_run_at
    if tick is None:
        raise ValueError(f"schedule {schedule.id} has no tick left to fire")
    trigger = trigger_of(schedule)
    if now - tick <= MISFIRE_GRACE:
        return FiringPlan(trigger.next_after(tick), run_of(schedule, tick, now))
    task = run_of(schedule, now, now) if schedule.misfire == "run_once" else None
    return FiringPlan(trigger.next_after(now), task, misfired=True)
