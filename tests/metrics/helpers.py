"""Reading a scrape the way Prometheus does: with ``prometheus_client``'s own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tasky.metrics.exposition import scrape, scrape_registry


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(text: str, sample: str, **labels: str) -> float:
    """The sum of the samples named ``sample`` whose labels include ``labels`` (0 when none:
    a series not yet counted)."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    )


def local_scrape() -> str:
    """A scrape of this test process's metrics directory (every process sharing it)."""
    body, _ = scrape(scrape_registry(), None)
    return body.decode()
