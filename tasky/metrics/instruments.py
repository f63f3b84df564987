"""The metrics, and the calls that count them where things happen.

Names follow Prometheus' conventions: ``tasky_`` first, base units in the name (seconds),
counters end in ``_total`` (the library adds it). Labels hold bounded sets only (worker
names, states, routes), never a task's id or config.

The histograms' buckets span what tasks take: from a millisecond (a no-op task, a start on
the dot) to hours (a long job, a task due while the service was down).
"""

from __future__ import annotations

from collections.abc import Iterable

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


def submitted(worker: str, count: int) -> None:
    if count:
        TASKS_SUBMITTED.labels(worker).inc(count)


def ended(tasks: Iterable[Task]) -> None:
    """Tasks whose new state was just stored after an attempt or a client's action: a final
    state counts as finished, a waiting one as a retry."""
    for task in tasks:
        if task.status.is_terminal:
            TASKS_FINISHED.labels(task.worker, task.status.value).inc()
        elif task.status in WAITING_STATES:
            TASK_RETRIES.labels(task.worker).inc()


def recovered(tasks: Iterable[Task]) -> None:
    for task in tasks:
        TASK_RECOVERIES.labels(task.worker).inc()


def attempt(worker: str, due_at: float, started_at: float, finished_at: float) -> None:
    START_LATENESS.labels(worker).observe(max(0.0, started_at - due_at))
    ATTEMPT_DURATION.labels(worker).observe(max(0.0, finished_at - started_at))


def tick(worker: str, misfire: str | None, overlap_skipped: bool) -> None:
    """A tick this runner fired: ``misfire`` is the schedule's policy when it fired late
    (after downtime); ``overlap_skipped`` when the last run still ran."""
    SCHEDULE_TICKS.labels(worker).inc()
    if misfire is not None:
        SCHEDULE_MISFIRES.labels(worker, misfire).inc()
    if overlap_skipped:
        SCHEDULE_OVERLAP_SKIPS.labels(worker).inc()


def slots(worker: str, total: int) -> None:
    RUNNER_SLOTS.labels(worker).set(total)
    RUNNER_SLOTS_BUSY.labels(worker).set(0)


def slot_taken(worker: str, taken: bool) -> None:
    busy = RUNNER_SLOTS_BUSY.labels(worker)
    if taken:
        busy.inc()
    else:
        busy.dec()


def request(method: str, route: str, code: int) -> None:
    HTTP_REQUESTS.labels(method, route, str(code)).inc()
