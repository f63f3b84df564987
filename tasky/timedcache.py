"""A value kept per process and recomputed at most once per ``max_age`` seconds, whatever
the number of callers: what lets any number of open dashboard tabs poll the live routes at the
cost of one store query per process per interval."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Kept(Generic[T]):
    value: T
    computed_at: float
    """The wall-clock instant (epoch seconds) the value was computed at."""
    etag: str
    """A strong ETag of the value's JSON: equal values, equal tags."""


def etag_of(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.blake2b(text.encode(), digest_size=12).hexdigest() + '"'


class TimedCache(Generic[T]):
    """``get()`` answers the kept value while it is younger than ``max_age`` seconds and
    recomputes it otherwise, one caller at a time (the others wait for that answer rather
    than query too).

    ``peek()`` never waits: it answers the kept value, however old (None before the first),
    and has one background thread recompute it when it has aged. For a value slow to compute
    (counts over a big table) a caller is then never held up, and ``cost_factor`` keeps the
    recomputations rare: a value stays fresh at least that many times as long as it took.
    """

    def __init__(
        self,
        compute: Callable[[], T],
        max_age: float,
        *,
        cost_factor: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self.compute = compute
        self.max_age = max_age
        self.cost_factor = cost_factor
        self.monotonic = monotonic
        self.wall = wall
        self.computations = 0
        """How many times ``compute`` ran: the store queries this cache made."""
        self.fresh_for = max_age
        """Seconds the last value stays fresh: ``max_age``, or more for a slow computation."""
        self._kept: Kept[T] | None = None
        self._fresh_until = float("-inf")
        self._lock = threading.Lock()  # held while computing
        self._flag = threading.Lock()  # guards _refreshing
        self._refreshing = False

    def get(self) -> Kept[T]:
        kept = self._kept
        if kept is not None and self.monotonic() < self._fresh_until:
            return kept
        with self._lock:
            if self._kept is not None and self.monotonic() < self._fresh_until:
                return self._kept  # another caller recomputed it while this one waited
            return self._recompute()

    def peek(self) -> Kept[T] | None:
        kept = self._kept
        if kept is None or self.monotonic() >= self._fresh_until:
            self._refresh_in_background()
        return kept

    def _recompute(self) -> Kept[T]:
        started = self.monotonic()
        value = self.compute()
        self.computations += 1
        kept = Kept(value, self.wall(), etag_of(value))
        self._kept = kept
        done = self.monotonic()
        self.fresh_for = max(self.max_age, self.cost_factor * (done - started))
        self._fresh_until = done + self.fresh_for
        return kept

    def _refresh_in_background(self) -> None:
        with self._flag:
            if self._refreshing:
                return
            self._refreshing = True

        def run() -> None:
            try:
                with self._lock:
                    if self._kept is None or self.monotonic() >= self._fresh_until:
                        self._recompute()
            finally:
                self._refreshing = False

        threading.Thread(target=run, name="tasky-cache-refresh", daemon=True).start()
