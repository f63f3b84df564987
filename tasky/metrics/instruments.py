"""The metrics, and the calls that count them where things happen.

Names follow Prometheus' conventions: ``tasky_`` first, base units in the name (seconds),
counters end in ``_total`` (the library adds it). Labels hold bounded sets only (worker
names, states, routes), never a task's id or config.

The histograms' buckets span what tasks take: from a millisecond (a no-op task, a start on
the dot) to hours (a long job, a task due while the service was down).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from tasky.models import WAITING_STATES, Task

INF = float("inf")
DURATION_BUCKETS = (
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, INF,
)  # fmt: skip
"""Seconds an attempt ran: 1 ms to 4 h."""
LATENESS_BUCKETS = (
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 3600, INF,
)  # fmt: skip
"""Seconds an attempt started after it was due: finer below a second (on time is a few
milliseconds), then up to an hour (downtime)."""

TASKS_SUBMITTED = Counter(
    "tasky_tasks_submitted",
    "Tasks created: submits, batches, re-runs and schedule ticks (an idempotent repeat "
    "creates none).",
    ["worker"],
)
TASKS_FINISHED = Counter(
    "tasky_tasks_finished",
    "Tasks that reached a final state (completed, failed, canceled).",
    ["worker", "status"],
)
TASK_RETRIES = Counter(
    "tasky_task_retries",
    "Attempts that ended with the task scheduled again: a failure or timeout with retries "
    "left, or an interrupted attempt recovered with retries left.",
    ["worker"],
)
TASK_RECOVERIES = Counter(
    "tasky_task_recoveries",
    "Tasks taken back from a runner that stopped or whose lease expired: retried if "
    "retries are left, else failed as 'interrupted'.",
    ["worker"],
)
ATTEMPT_DURATION = Histogram(
    "tasky_attempt_duration_seconds",
    "How long an attempt ran, whatever its outcome.",
    ["worker"],
    buckets=DURATION_BUCKETS,
)
START_LATENESS = Histogram(
    "tasky_start_lateness_seconds",
    "How late an attempt started: its start minus the time it was due (execute_at).",
    ["worker"],
    buckets=LATENESS_BUCKETS,
)
SCHEDULE_TICKS = Counter(
    "tasky_schedule_ticks",
    "Schedule ticks fired (each by exactly one runner), whether or not they created a run.",
    ["worker"],
)
SCHEDULE_MISFIRES = Counter(
    "tasky_schedule_misfires",
    "Ticks fired late, after downtime: one catch-up run (policy run_once) or none (skip).",
    ["worker", "policy"],
)
SCHEDULE_OVERLAP_SKIPS = Counter(
    "tasky_schedule_overlap_skips",
    "Ticks that created no run because the previous run had not finished (overlap: skip).",
    ["worker"],
)
RUNNER_SLOTS = Gauge(
    "tasky_runner_slots",
    "Task slots (max_num_tasks) of the live runners of this host's service.",
    ["worker"],
    multiprocess_mode="livesum",
)
RUNNER_SLOTS_BUSY = Gauge(
    "tasky_runner_slots_busy",
    "Slots running a task now, in the live runners of this host's service.",
    ["worker"],
    multiprocess_mode="livesum",
)
HTTP_REQUESTS = Counter(
    "tasky_http_requests",
    "HTTP requests answered, by method, route (the URL rule; 'unmatched' when none) and "
    "status code.",
    ["method", "route", "code"],
)


_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    """The metric's child of these label values, looked up once per process: ``labels()``
    takes a lock and checks its arguments on each call, which a runner would pay several
    times per task and a server once per request. Label values are bounded sets, and so is
    this cache."""
    key = (metric, labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def submitted(worker: str, count: int) -> None:
    if count:
        _child(TASKS_SUBMITTED, worker).inc(count)


def ended(tasks: Iterable[Task]) -> None:
    """Tasks whose new state was just stored after an attempt or a client's action: a final
    state counts as finished, a waiting one as a retry. One write per counter for a batch,
    not one per task: each takes the library's lock and writes its file."""
    finished: collections.Counter[tuple[str, str]] = collections.Counter()
    retries: collections.Counter[str] = collections.Counter()
    for task in tasks:
        if task.status.is_terminal:
            finished[task.worker, task.status.value] += 1
        elif task.status in WAITING_STATES:
            retries[task.worker] += 1
    for (worker, status), count in finished.items():
        _child(TASKS_FINISHED, worker, status).inc(count)
    for worker, count in retries.items():
        _child(TASK_RETRIES, worker).inc(count)


def recovered(tasks: Iterable[Task]) -> None:
    for task in tasks:
        _child(TASK_RECOVERIES, task.worker).inc()


def attempt(worker: str, due_at: float, started_at: float, finished_at: float) -> None:
    _child(START_LATENESS, worker).observe(max(0.0, started_at - due_at))
    _child(ATTEMPT_DURATION, worker).observe(max(0.0, finished_at - started_at))


def tick(worker: str, misfire: str | None, overlap_skipped: bool) -> None:
    """A tick this runner fired: ``misfire`` is the schedule's policy when it fired late
    (after downtime); ``overlap_skipped`` when the last run still ran."""
    _child(SCHEDULE_TICKS, worker).inc()
    if misfire is not None:
        _child(SCHEDULE_MISFIRES, worker, misfire).inc()
    if overlap_skipped:
        _child(SCHEDULE_OVERLAP_SKIPS, worker).inc()


def slots(worker: str, total: int) -> None:
    _child(RUNNER_SLOTS, worker).set(total)
    _child(RUNNER_SLOTS_BUSY, worker).set(0)


def slots_busy(worker: str, busy: int) -> None:
    _child(RUNNER_SLOTS_BUSY, worker).set(busy)


def request(method: str, route: str, code: int) -> None:
    _child(HTTP_REQUESTS, method, route, str(code)).inc()
