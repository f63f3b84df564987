"""The webhook metrics: attempts of deliveries by event and result, counted where the runner
records them, and the outbox's deliveries by status, read from the store at each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tasky.webhooks.events import DELIVERY_STATES, Attempt

WEBHOOK_ATTEMPTS = Counter(
    "tasky_webhook_attempts",
    "Delivery attempts of webhook events by result: delivered (2xx), retry (due again), "
    "failed (no attempt left, or 410 Gone).",
    ["event", "result"],
)


def attempted(event: str, attempt: Attempt) -> None:
    if attempt.delivered:
        result = "delivered"
    else:
        result = "retry" if attempt.retry_at is not None else "failed"
    WEBHOOK_ATTEMPTS.labels(event, result).inc()


class DeliveryGauges(Collector):
    """``tasky_webhook_deliveries{status}``: the outbox's deliveries in each status."""

    def __init__(self, counts: Callable[[], dict[str, int]]):
        self._counts = counts

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = self._counts()
        except Exception:  # an outage: the scrape still answers, without these
            return
        family = GaugeMetricFamily(
            "tasky_webhook_deliveries",
            "Webhook deliveries in the outbox by status (pending, delivered, failed).",
            labels=["status"],
        )
        for status in DELIVERY_STATES:
            family.add_metric([status], counts.get(status, 0))
        yield family
