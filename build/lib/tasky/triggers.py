"""When a schedule fires: pure arithmetic on instants (float seconds since the epoch, UTC).

A trigger is frozen and reads no clock: ``next_after(t)`` is the first tick strictly after
``t`` and ``first_run(now)`` the first tick at or after ``now``; both are None once no tick is
left up to ``end_at``.

Cron expressions are parsed and matched by cronsim on *local wall time*; this module then
applies SPEC's DST rule to each matching wall time itself: a wall time that does not exist that
day (spring forward) fires once, when the gap ends; one that occurs twice (fall back) fires
once, at its first occurrence. cronsim's own DST handling follows Debian cron instead (only for
fixed-time jobs; ``*/15 1 * * *`` would fire in both passes of the repeated hour), so it is
bypassed by giving it naive datetimes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from tasky.errors import TriggerError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``America/New_York``, ``UTC``), or a TriggerError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise TriggerError(f"unknown time zone {name!r}", "timezone") from None


def cron_fields(expression: str) -> str:
    """The five fields of a cron expression (an ``@alias`` expanded), or a TriggerError that
    names the field at fault. cronsim also reads a sixth (seconds) field: SPEC's cron has five."""
    text = " ".join(str(expression).split())
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise TriggerError(
                f"cron: unknown alias {text!r} (known: {', '.join(ALIASES)})", "cron"
            )
        return ALIASES[text.lower()]
    parts = text.split()
    if len(parts) != len(CRON_FIELDS):
        raise TriggerError(
            f"cron: expected 5 fields ({' '.join(CRON_FIELDS)}), got {len(parts)} in {text!r}",
            "cron",
        )
    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise TriggerError(_cron_problem(str(exc), parts), "cron") from None
    return text


def _cron_problem(message: str, parts: list[str]) -> str:
    """cronsim says ``Bad day-of-week``; the client is told which text that field holds. A
    day-of-month is also "bad" when no month in the month field has that many days."""
    name = message.removeprefix("Bad ")
    if name not in CRON_FIELDS:
        return f"cron: {message}"
    value = parts[CRON_FIELDS.index(name)]
    if name == "day-of-month" and _parses(" ".join([*parts[:3], "*", parts[4]])):
        return f"cron: day-of-month {value!r} never occurs in month {parts[3]!r}"
    return f"cron: bad {name} field {value!r}"


def _parses(text: str) -> bool:
    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError:
        return False
    return True


@dataclass(frozen=True)
class CronTrigger:
    """Ticks where the cron expression matches wall time in ``timezone``, within
    [``start_at``, ``end_at``]."""

    expression: str
    timezone: str
    start_at: float | None = None
    end_at: float | None = None
    _fields: str = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_fields", cron_fields(self.expression))
        object.__setattr__(self, "_zone", zone_of(self.timezone))

    def next_after(self, t: float) -> float | None:
        """The first tick strictly after ``t`` and not before ``start_at``."""
        if self.start_at is not None and t < self.start_at:
            return self._search(self.start_at, inclusive=True)
        return self._search(t, inclusive=False)

    def first_run(self, now: float) -> float | None:
        """The first tick at or after ``now`` and ``start_at``: a new schedule's ``next_run_at``."""
        return self._search(
            now if self.start_at is None else max(now, self.start_at), inclusive=True
        )

    def _search(self, lo: float, inclusive: bool) -> float | None:
        # The wall-time search starts one second before lo: a tick that a DST gap moves to the
        # gap's end has an earlier wall time than that end. Wall times matched in the second
        # pass of a repeated hour resolve to their first pass, before lo, and are passed over.
        wall = datetime.fromtimestamp(lo - 1, self._zone).replace(tzinfo=None)
        for local in CronSim(self._fields, wall):  # ends after 50 years without a match
            at = self._instant(local)
            if at > lo or (inclusive and at == lo):
                return at if self.end_at is None or at <= self.end_at else None
        return None

    def _instant(self, local: datetime) -> float:
        """The instant of a wall time under SPEC's DST rule: a repeated wall time is its first
        occurrence (fold=0); one inside a gap moves to the first wall minute that exists."""
        while not self._exists(local):
            local += timedelta(minutes=1)
        return local.replace(tzinfo=self._zone).timestamp()

    def _exists(self, local: datetime) -> bool:
        """Whether the wall time survives a round trip through UTC (it does not in a gap)."""
        back = local.replace(tzinfo=self._zone).astimezone(UTC).astimezone(self._zone)
        return back.replace(tzinfo=None) == local


@dataclass(frozen=True)
class IntervalTrigger:
    """Ticks at ``anchor + k * seconds`` (k = 0, 1, …) up to ``end_at``. Each tick is computed
    from k, never by adding to the previous one, so ticks do not drift."""

    seconds: float
    anchor: float
    end_at: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.seconds):
            raise TriggerError("interval must be a finite number of seconds", "interval")
        if self.seconds <= 0:
            raise TriggerError("interval must be greater than 0", "interval")

    def next_after(self, t: float) -> float | None:
        """The first tick strictly after ``t``."""
        return self._search(t, inclusive=False)

    def first_run(self, now: float) -> float | None:
        """The first tick at or after ``now``: the anchor while it is still ahead."""
        return self._search(now, inclusive=True)

    def _search(self, lo: float, inclusive: bool) -> float | None:
        def reached(k: int) -> bool:
            at = self.anchor + k * self.seconds
            return at > lo or (inclusive and at == lo)

        k = max(0, math.ceil((lo - self.anchor) / self.seconds))
        # The division rounds: the estimate can be one step off either way.
        while k > 0 and reached(k - 1):
            k -= 1
        while not reached(k):
            k += 1
        at = self.anchor + k * self.seconds
        return at if self.end_at is None or at <= self.end_at else None


Trigger = CronTrigger | IntervalTrigger


def make_trigger(
    cron: str | None,
    interval: float | None,
    timezone: str,
    start_at: float | None,
    end_at: float | None,
    created_at: float,
) -> Trigger:
    """The trigger of a schedule's fields, or a TriggerError naming what is wrong. An interval
    schedule first fires at ``start_at``, or one interval after ``created_at``."""
    if (cron is None) == (interval is None):
        both = () if cron is None else ("interval",)
        raise TriggerError("a schedule needs exactly one of cron and interval", "cron", *both)
    zone_of(timezone)  # an interval ignores it, but a typo is still an error
    if start_at is not None and end_at is not None and end_at < start_at:
        raise TriggerError("end_at is before start_at", "end_at")
    if cron is not None:
        return CronTrigger(cron, timezone, start_at, end_at)
    assert interval is not None  # exactly one of the two, checked above
    anchor = start_at if start_at is not None else created_at + interval
    return IntervalTrigger(interval, anchor, end_at)
