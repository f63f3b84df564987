"""What the dashboard asks of the engine beyond the task and schedule routes: a live feed of
task states and the overview's counts and activity, each kept per process for a few seconds
(any number of open tabs costs the store one query per interval), and bulk actions on the
tasks of a filter."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from tasky.bulk import BULK_ACTIONS
from tasky.errors import InvalidInput, UnknownWorker
from tasky.models import ACTIVE_STATES, TERMINAL_STATES, Task, TaskFilter, TaskState
from tasky.service.base import Part
from tasky.stats import percentile
from tasky.timedcache import Kept, TimedCache

FEED_MAX_AGE = 1.0
"""Seconds the live feed is kept: the tabs poll every 2 s."""
FEED_WINDOW = 30.0
"""The feed shows the tasks finished in the last this many seconds..."""
FEED_LIMIT = 500
"""... at most this many of them."""
COUNTS_MAX_AGE = 10.0
"""Seconds between two counts of the tasks (a scan of the table, made in the background)..."""
COUNTS_COST_FACTOR = 20.0
"""... or 20 times as long as the last count took: at most 5 % of a core goes to counting
(a million tasks take about 2 s on SQLite: a count every 40 s)."""
RANGES = {"15m": (900, 60), "1h": (3600, 60), "24h": (86400, 1800), "7d": (7 * 86400, 7200)}
"""The overview's ranges: (seconds, seconds per bucket)."""
SERIES_MAX_AGE = {"15m": 5.0, "1h": 10.0, "24h": 60.0, "7d": 300.0}
SERIES_LIMIT = 200_000
"""The activity chart reads at most this many finished tasks, the latest."""
BULK_PAGE = 500
"""Tasks changed by one statement of a bulk action."""


@dataclass(frozen=True)
class BulkCount:
    action: str
    filter: TaskFilter
    max_id: str | None
    by_status: dict[str, int]
    states: list[str]

    @property
    def matched(self) -> int:
        return sum(self.by_status.values())

    @property
    def eligible(self) -> int:
        return sum(n for status, n in self.by_status.items() if status in self.states)


@dataclass(frozen=True)
class BulkResult:
    action: str
    filter: TaskFilter
    max_id: str | None
    acted: int
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class Dashboard(Part):
    def __init__(self, *parts: Any):
        super().__init__(*parts)
        self._feed = TimedCache(self._read_feed, FEED_MAX_AGE)
        self._counts = TimedCache(self._count, COUNTS_MAX_AGE, cost_factor=COUNTS_COST_FACTOR)
        self._series = {
            key: TimedCache(functools.partial(self._activity, key), age)
            for key, age in SERIES_MAX_AGE.items()
        }

    # -- live -------------------------------------------------------------------------------

    def feed(self) -> Kept[dict[str, Any]]:
        """The running tasks, the latest finished ones and the newest task id."""
        return self._feed.get()

    @property
    def feed_queries(self) -> int:
        """Store queries the feed has made in this process."""
        return self._feed.computations

    @property
    def store_queries(self) -> int:
        """Store queries the feed and the overview have made in this process."""
        caches = [self._feed, self._counts, *self._series.values()]
        return sum(cache.computations for cache in caches)

    def _read_feed(self) -> dict[str, Any]:
        now = self.clock()
        tasks = self.store.live_tasks(now - FEED_WINDOW, FEED_LIMIT)
        newest = max((task.id for task in tasks), default=None)
        seen: dict[str, Task] = {}
        for task in tasks:
            seen.setdefault(task.id, task)
        return {"newest_task_id": newest, "tasks": list(seen.values())}

    # -- overview ---------------------------------------------------------------------------

    def overview(self, range_key: str) -> dict[str, Any]:
        """The counts (None until the first count of this process is done: it never holds
        a request up) and the activity over the range."""
        if range_key not in RANGES:
            message = f"Must be one of: {', '.join(RANGES)}."
            raise InvalidInput("unknown range", errors={"range": [message]})
        counts = self._counts.peek()
        series = self._series[range_key].get()
        return {
            "counts": None
            if counts is None
            else {
                **counts.value,
                "counted_at": counts.computed_at,
                "max_age": self._counts.fresh_for,
            },
            "series": {**series.value, "computed_at": series.computed_at},
        }

    def _count(self) -> dict[str, Any]:
        by_status: dict[str, int] = {state.value: 0 for state in TaskState}
        by_worker: dict[str, dict[str, int]] = defaultdict(
            lambda: {"waiting": 0, "running": 0, "finished": 0, "total": 0}
        )
        for (worker, status), n in self.store.task_counts().items():
            by_status[status] = by_status.get(status, 0) + n
            state = TaskState(status)
            kind = (
                "running"
                if state in ACTIVE_STATES
                else "finished"
                if state in TERMINAL_STATES
                else "waiting"
            )
            by_worker[worker][kind] += n
            by_worker[worker]["total"] += n
        return {"by_status": by_status, "by_worker": dict(sorted(by_worker.items()))}

    def _activity(self, range_key: str) -> dict[str, Any]:
        """Finished tasks per bucket by outcome, and the p50/p95 start lateness of those."""
        span, bucket = RANGES[range_key]
        now = self.clock()
        start = (now - span) // bucket * bucket + bucket
        rows = self.store.finished_since(start, SERIES_LIMIT)
        count = int((now - start) // bucket) + 1
        points: list[dict[str, Any]] = [
            {"at": start + i * bucket, "completed": 0, "failed": 0, "canceled": 0}
            for i in range(count)
        ]
        lateness: list[list[float]] = [[] for _ in range(count)]
        for status, finished_at, late in rows:
            i = min(count - 1, int((finished_at - start) // bucket))
            points[i][status] += 1
            if late is not None:
                lateness[i].append(late)
        for point, values in zip(points, lateness, strict=True):
            values.sort()
            point["lateness_p50"] = percentile(values, 50)
            point["lateness_p95"] = percentile(values, 95)
        return {
            "range": range_key,
            "bucket_seconds": bucket,
            "start": start,
            "points": points,
            "truncated": len(rows) >= SERIES_LIMIT,
        }

    # -- bulk actions -----------------------------------------------------------------------

    def bulk_count(self, filters: TaskFilter, action: str) -> BulkCount:
        """How many tasks match the filter now, by state, and the newest id of them: the
        bound that ``bulk_act`` then keeps to."""
        filters = self._named(filters)
        by_status, newest = self.store.count_matching(filters, None)
        return BulkCount(action, filters, newest, by_status, _states(action))

    def bulk_act(
        self, filters: TaskFilter, action: str, max_id: str | None, counted: int | None = None
    ) -> BulkResult:
        """Do ``action`` on the tasks of the filter whose id is at most ``max_id`` (None: the
        newest now), a page of tasks per statement; the others are reported as skipped, by
        state. ``counted``: how many matched at the count, so that those which left the
        filter since are reported too."""
        filters = self._named(filters)
        by_status, newest = self.store.count_matching(filters, max_id)
        max_id = max_id if max_id is not None else newest
        states = _states(action)
        skipped = {status: n for status, n in sorted(by_status.items()) if status not in states}
        if counted is not None and counted > sum(by_status.values()):
            skipped["no longer matching the filter"] = counted - sum(by_status.values())
        if max_id is None:
            return BulkResult(action, filters, None, 0, skipped)
        acted, before_id, now = 0, None, self.clock()
        while True:
            page = self.store.act_on_matching(filters, action, max_id, before_id, BULK_PAGE, now)
            acted += len(page)
            self._after(action, page)
            if len(page) < BULK_PAGE:
                break
            before_id = min(task.id for task in page)
        eligible = sum(n for status, n in by_status.items() if status in states)
        if eligible > acted:
            skipped["changed state meanwhile"] = eligible - acted
        return BulkResult(action, filters, max_id, acted, skipped)

    def _after(self, action: str, tasks: list[Task]) -> None:
        if action == "cancel":
            ended = [task for task in tasks if task.status is TaskState.CANCELED]
            for task in tasks:
                if task.status is TaskState.CANCELING:
                    self.engine.abort(task.id)
            if ended:
                self.engine.ended(ended)
        elif action in ("resume", "run") and tasks:
            self.engine.wake()

    def _named(self, filters: TaskFilter) -> TaskFilter:
        """A worker named in any case is the registered worker's name."""
        if filters.worker is None:
            return filters
        try:
            return replace(filters, worker=self.registry.get(filters.worker).name)
        except UnknownWorker:
            return filters  # tasks of a worker no longer installed still match


def _states(action: str) -> list[str]:
    return sorted(state.value for state in BULK_ACTIONS[action])
