"""Webhook events: their names, the records of endpoints and deliveries, and the payload of
a task's event, built once when its delivery is written to the outbox."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasky.models import Task

TASK_ENDED = {
    "completed": "task.completed",
    "failed": "task.failed",
    "canceled": "task.canceled",
    "skipped": "task.skipped",
}
"""The event of each terminal state."""
CHAIN_ENDED = {
    "completed": "chain.completed",
    "failed": "chain.failed",
    "canceled": "chain.canceled",
}
"""The event of a chain's end, by the chain's status (``tasky.chain_runs.chain_status``)."""
STARTED = "task.started"
MISFIRED = "schedule.misfired"
PING = "ping"
EVENTS = (*TASK_ENDED.values(), STARTED, *CHAIN_ENDED.values(), MISFIRED)
"""What an endpoint may subscribe to."""
DEFAULT_EVENTS = tuple(event for event in EVENTS if event != STARTED)
"""An endpoint created without ``events`` gets every event but the opt-in ``task.started``."""
DELIVERY_STATES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class Endpoint:
    """A receiver of events: those named in ``events`` of the tasks its filter matches
    (``worker``, ``chain_id``, ``schedule_id``; None matches any)."""

    id: str
    url: str
    events: list[str]
    worker: str | None
    chain_id: str | None
    schedule_id: str | None
    description: str | None
    secret: str
    previous_secret: str | None = None
    previous_until: float | None = None
    """Until this instant, deliveries are signed with ``previous_secret`` too."""
    disabled_at: float | None = None
    disabled_reason: str | None = None
    created_at: float = 0.0

    def wants(self, event: str, task: Task) -> bool:
        """Whether the event of ``task`` (for a chain's event: of its last step to end)
        is for this endpoint; the worker filter applies to a task's events only."""
        return (
            self.disabled_at is None
            and event in self.events
            and (self.worker in (None, task.worker) or event in CHAIN_ENDED.values())
            and self.chain_id in (None, task.chain_id)
            and self.schedule_id in (None, task.schedule_id)
        )

    def wants_misfire(self, schedule_id: str, worker: str) -> bool:
        """Whether a schedule's misfire is for this endpoint (one filtered on a chain gets
        none)."""
        return (
            self.disabled_at is None
            and MISFIRED in self.events
            and self.schedule_id in (None, schedule_id)
            and self.worker in (None, worker)
            and self.chain_id is None
        )

    def secrets(self, now: float) -> list[str]:
        """The secrets that sign a message sent at ``now``, the current one first."""
        if self.previous_secret and self.previous_until and now < self.previous_until:
            return [self.secret, self.previous_secret]
        return [self.secret]


@dataclass(frozen=True)
class Delivery:
    """One event for one receiver (an endpoint, or a submit's ``callback_url``); its id is
    the ``webhook-id`` of every attempt."""

    id: str
    webhook_id: str | None
    url: str | None
    """A callback's URL; None for an endpoint's delivery (sent to the endpoint's URL)."""
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int = 0
    next_attempt_at: float = 0.0
    owner: str | None = None
    lease_until: float | None = None
    last_status: int | None = None
    last_latency: float | None = None
    last_answer: str | None = None
    """The first KiB of the receiver's last answer."""
    last_error: str | None = None
    created_at: float = 0.0
    delivered_at: float | None = None


@dataclass(frozen=True)
class EndpointPage:
    webhooks: list[Endpoint]
    next_cursor: str | None


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Attempt:
    """What one attempt of a delivery came to, as the runner records it."""

    delivered: bool
    status: int | None
    latency: float | None
    answer: str | None
    error: str | None
    retry_at: float | None
    """When to try again; None: no more attempts (the delivery fails)."""
    gone: bool = False
    """The receiver answered 410: its endpoint is disabled."""


def iso(moment: float | None) -> str | None:
    """An instant as the API writes it (UTC, ``Z``)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def task_payload(event: str, task: Task, now: float, output_limit: int) -> dict[str, Any]:
    """The body of a task's event. ``output`` is left out (null, ``output_truncated`` true)
    when its JSON is larger than ``output_limit`` bytes or was truncated when stored."""
    output: Any = task.output
    truncated = task.output_truncated
    if truncated or (output is not None and len(json.dumps(output)) > output_limit):
        output, truncated = None, True
    return {
        "type": event,
        "timestamp": iso(now),
        "data": {
            "task_id": task.id,
            "worker": task.worker,
            "status": str(task.status),
            "error": task.error,
            "attempts": task.attempts,
            "schedule_id": task.schedule_id,
            "chain_id": task.chain_id,
            "started_at": iso(task.started_at),
            "finished_at": iso(task.finished_at),
            "duration": task.duration(now),
            "output": output,
            "output_truncated": truncated,
            "result_url": f"/tasky/v1/tasks/{task.id}/result",
        },
    }


def chain_payload(
    event: str, chain_id: str, name: str | None, counts: dict[str, int], task: Task, now: float
) -> dict[str, Any]:
    """The body of a chain's end: its steps counted by state."""
    return {
        "type": event,
        "timestamp": iso(now),
        "data": {
            "chain_id": chain_id,
            "name": name,
            "status": event.split(".", 1)[1],
            "schedule_id": task.schedule_id,
            "steps": counts,
            "chain_url": f"/tasky/v1/chains/{chain_id}",
        },
    }


def misfire_payload(
    schedule_id: str, worker: str, policy: str, due_at: float, run_id: str | None, now: float
) -> dict[str, Any]:
    """The body of a tick that fired late, after downtime: its due time, the schedule's
    ``misfire`` policy, and the catch-up run it made (None with ``skip``, or ``overlap``)."""
    return {
        "type": MISFIRED,
        "timestamp": iso(now),
        "data": {
            "schedule_id": schedule_id,
            "worker": worker,
            "due_at": iso(due_at),
            "misfire": policy,
            "task_id": run_id,
        },
    }


def ping_payload(webhook_id: str, now: float) -> dict[str, Any]:
    return {"type": PING, "timestamp": iso(now), "data": {"webhook_id": webhook_id}}
