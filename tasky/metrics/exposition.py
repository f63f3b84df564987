"""Answering a scrape: every process's files summed, and the store's own gauges.

The store's gauges (tasks waiting by state, tasks running) cost a query; its answer is kept
``STORE_GAUGES_TTL`` seconds in a file of the metrics directory, so several scrapers, and
the several processes that answer them, cost one query per period. On PostgreSQL every host
reports the same store: ``TASKY_METRICS_STORE_GAUGES=0`` turns them off on all hosts but
one (or aggregate them with ``max without (instance)``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from tasky.metrics import directory
from tasky.models import ACTIVE_STATES

logger = logging.getLogger(__name__)

EXTENSION = "tasky_metrics"
"""Where the app keeps its scrape registry (``app.extensions``)."""
STORE_GAUGES_TTL = 5.0
UnfinishedCounts = Callable[[], list[tuple[str, str, int]]]
"""``Store.unfinished_counts``: (worker, status, tasks) of the tasks not finished."""


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """What a scrape reports: the counts of every process of the service, and what
    ``collectors`` (``StoreGauges``) add."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return registry


def scrape(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type: Prometheus' text format (0.0.4), or OpenMetrics
    when the ``Accept`` header asks for it (as Prometheus does)."""
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type


class StoreGauges(Collector):
    """The store's gauges, from ``unfinished_counts``, kept in the file ``cache``."""

    def __init__(
        self,
        unfinished_counts: UnfinishedCounts,
        cache: Path,
        ttl: float = STORE_GAUGES_TTL,
        clock: Callable[[], float] = time.time,
    ):
        self.unfinished_counts = unfinished_counts
        self.cache = cache
        self.ttl = ttl
        self.clock = clock

    @classmethod
    def of(cls, unfinished_counts: UnfinishedCounts, database_url: str) -> StoreGauges:
        """The gauges of the store at ``database_url``, cached in the metrics directory."""
        key = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        return cls(unfinished_counts, directory.prepare() / f"store-gauges-{key}.json")

    def describe(self) -> list:
        return []  # registering must not query the store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self._counts()
        if counts is None:
            return
        waiting = GaugeMetricFamily(
            "tasky_tasks_waiting",
            "Tasks waiting in the store, by state: scheduled, queued (due, no free slot), "
            "paused. The same on every host sharing the store.",
            labels=["worker", "state"],
        )
        running = GaugeMetricFamily(
            "tasky_tasks_running",
            "Tasks running (or being canceled) in the store, on any runner.",
            labels=["worker"],
        )
        active: dict[str, int] = {}
        for worker, state, count in counts:
            if state in ACTIVE_STATES:
                active[worker] = active.get(worker, 0) + count
            else:
                waiting.add_metric([worker, state], count)
        for worker, count in sorted(active.items()):
            running.add_metric([worker], count)
        yield waiting
        yield running

    def _counts(self) -> list[tuple[str, str, int]] | None:
        now = self.clock()
        try:
            cached = json.loads(self.cache.read_text())
            if 0 <= now - cached["taken_at"] < self.ttl:
                return [tuple(row) for row in cached["counts"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none yet, or half written by a process that died
        try:
            counts = self.unfinished_counts()
        except Exception:
            logger.warning("metrics: cannot count the store's tasks", exc_info=True)
            return None
        partial = self.cache.with_name(f"{self.cache.name}.{os.getpid()}")
        partial.write_text(json.dumps({"taken_at": now, "counts": counts}))
        partial.replace(self.cache)
        return counts
