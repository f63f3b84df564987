"""Figures over sorted samples, shared by the worker statistics and the dashboard."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], pct: int) -> float | None:
    """The nearest-rank ``pct``-th percentile of ascending values; None for none."""
    if not sorted_values:
        return None
    return sorted_values[round(pct / 100 * (len(sorted_values) - 1))]
