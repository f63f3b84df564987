"""The targets of the benchmark, each a figure beside its reference measured in the same run.

A figure module contributes ``Target`` entries through a function ``targets(measured) ->
list[Target]`` that reads the dicts the run's figures returned (``measured[name]``); the run
lists those functions in ``bench.run.TARGET_SOURCES``. A target is met on its ``ratio``
(measured / reference), or on its ``excess`` (measured - reference, for a lateness that may
exceed its floor by so many ms), or on its ``value`` alone. A figure not measured in the run
(its module not run, or not written yet) is a ``Target`` without a measure: shown "not
measured", never "met".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["ratio", "excess", "value"]


@dataclass(frozen=True)
class Target:
    number: int
    """The target's number in the performance issue's list."""
    figure: str
    measured: float | None
    reference: float | None
    reference_label: str
    limit: float
    at_most: bool
    kind: Kind = "ratio"
    unit: str = ""
    note: str = ""
    """Why there is no measure, or what bounds it (a capped figure)."""
    paired: float | None = None
    """For a ratio whose figure alternates with its reference round by round: the median of
    the rounds' own ratios, the score (drift between rounds moves both sides of each)."""

    @property
    def score(self) -> float | None:
        """What the limit applies to: the ratio, the excess over the reference, or the value."""
        if self.measured is None:
            return None
        if self.kind == "value":
            return self.measured
        if self.paired is not None:
            return self.paired
        if self.reference is None:
            return None
        if self.kind == "excess":
            return self.measured - self.reference
        return self.measured / self.reference if self.reference else None

    @property
    def met(self) -> bool | None:
        score = self.score
        if score is None:
            return None
        return score <= self.limit if self.at_most else score >= self.limit

    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "not measured"}[self.met]

    def wanted(self) -> str:
        sign = "<=" if self.at_most else ">="
        if self.kind == "ratio":
            return f"{sign} {self.limit:g} x"
        if self.kind == "excess":
            return f"{sign} ref + {self.limit:g}{self.unit}"
        return f"{sign} {self.limit:g}{self.unit}"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "score": self.score, "met": self.met}


def not_measured(number: int, figure: str, why: str, limit: float, at_most: bool) -> Target:
    """A place for a target whose figure this run does not measure."""
    return Target(number, figure, None, None, "", limit, at_most, note=why)


def collect(
    sources: Iterable[Callable[[dict[str, dict]], list[Target]]], measured: dict[str, dict]
) -> list[Target]:
    """Every source's targets, in the order of their numbers (stable within one number)."""
    found = [target for source in sources for target in source(measured)]
    return sorted(found, key=lambda t: t.number)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return text + unit


def render(targets: list[Target]) -> str:
    """The table of targets: figure | measured | reference (same run) | score | target | verdict."""
    headers = ("#", "figure", "measured", "reference (same run)", "score", "target", "verdict")
    rows = []
    for t in targets:
        score = t.score
        shown = (
            "-"
            if score is None
            else f"{score:.2f} x"
            if t.kind == "ratio"
            else f"{score:+.3g}{t.unit}"
            if t.kind == "excess"
            else _num(score, t.unit)
        )
        reference = f"{t.reference_label} {_num(t.reference, t.unit)}" if t.reference_label else ""
        rows.append(
            (
                str(t.number),
                t.figure,
                _num(t.measured, t.unit),
                reference.strip(),
                shown,
                t.wanted(),
                t.verdict() + (f" ({t.note})" if t.note else ""),
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    met = sum(1 for t in targets if t.met)
    missed = sum(1 for t in targets if t.met is False)
    out.append(f"{met} met, {missed} missed, {len(targets) - met - missed} not measured")
    return "\n".join(out)
