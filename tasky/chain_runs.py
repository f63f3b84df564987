"""A chain's template and the runs made of it: one for a chain submit, one per tick of a
schedule whose body is a chain.

A template is the JSON a client's chain became once checked: ``{"name", "failure_policy",
"steps": [{"step", "worker", "config", "delay", "timeout", "max_retries", "retry_backoff",
"depends_on", "run_if"}]}``, ``depends_on`` by step name and ``delay`` in seconds from the
run's start. A schedule keeps it as its body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasky.ids import new_ids
from tasky.models import Chain, NewTask, RunIf, TaskState

UNFINISHED = frozenset(TaskState) - {s for s in TaskState if s.is_terminal}


@dataclass(frozen=True)
class ChainRun:
    """A chain and its steps, to be stored together."""

    chain: Chain
    steps: list[NewTask]


def chain_run(
    template: dict[str, Any],
    start_at: float,
    now: float,
    schedule_id: str | None = None,
    idempotency_key: str | None = None,
) -> ChainRun:
    """A run of ``template`` whose steps are due ``delay`` seconds after ``start_at``. Ids
    are sorted so that the steps read back (by id) in the template's order."""
    steps = template["steps"]
    chain_id, *ids = sorted(new_ids(now, len(steps) + 1))
    by_name = {step["step"]: task_id for step, task_id in zip(steps, ids, strict=True)}
    news = [
        NewTask(
            id=by_name[step["step"]],
            worker=step["worker"],
            config=step["config"],
            execute_at=start_at + step.get("delay", 0.0),
            created_at=now,
            timeout=step.get("timeout"),
            max_retries=step.get("max_retries", 0),
            retry_backoff=step.get("retry_backoff", 1.0),
            schedule_id=schedule_id,
            depends_on=[by_name[name] for name in step.get("depends_on") or ()] or None,
            run_if=RunIf(step["run_if"]) if step.get("run_if") else None,
            chain_id=chain_id,
            step=step["step"],
        )
        for step in steps
    ]
    chain = Chain(chain_id, template.get("name"), template["failure_policy"], now, idempotency_key)
    return ChainRun(chain, news)


def chain_status(counts: dict[str, int], canceled_at: float | None) -> str:
    """``running`` while a step is unfinished (``canceling`` after a cancel of the chain);
    then ``canceled`` after a cancel, ``failed`` when a step failed or was canceled, else
    ``completed`` (skipped steps included)."""
    if any(counts.get(state, 0) for state in UNFINISHED):
        return "canceling" if canceled_at is not None else "running"
    if canceled_at is not None:
        return "canceled"
    if counts.get("failed") or counts.get("canceled"):
        return "failed"
    return "completed"
