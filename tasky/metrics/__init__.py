"""Tasky's Prometheus metrics (``GET /metrics``), counted in every process of a service.

Importing this package settles the service's metrics directory (``tasky.metrics.directory``)
before Tasky defines a metric: ``prometheus_client`` chooses its multiprocess mode from the
environment when it is imported. Where something imported the library first, its choice is
made again, now that the directory is known (once: a second choice would map the
same files twice). ``tasky.metrics.instruments`` defines the
metrics, ``tasky.metrics.exposition`` answers a scrape.
"""

from __future__ import annotations

import sys

from tasky.metrics import directory

directory.prepare()
if "prometheus_client.values" in sys.modules:
    from prometheus_client import values

    if not values.ValueClass._multiprocess:
        values.ValueClass = values.get_value_class()
