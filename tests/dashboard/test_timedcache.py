"""The per-process cache behind the live routes: one computation per interval, whatever the
number of callers."""

from __future__ import annotations

import threading

from tasky.timedcache import TimedCache, etag_of
from tests.support import wait_for


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_computation_per_interval_whatever_the_callers():
    clock = Clock()
    values = iter(range(100))
    cache = TimedCache(lambda: {"n": next(values)}, max_age=2.0, monotonic=clock)
    first = cache.get()
    assert [cache.get() for _ in range(50)] == [first] * 50
    assert cache.computations == 1
    clock.now += 1.9
    assert cache.get() is first
    clock.now += 0.2
    second = cache.get()
    assert second.value == {"n": 1} and second.etag != first.etag
    assert cache.computations == 2


def test_concurrent_callers_wait_for_one_computation():
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return len(calls)

    cache = TimedCache(slow, max_age=60.0)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(cache.get().value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    started.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert answers == [1] * 8 and cache.computations == 1


def test_peek_never_waits_and_refreshes_in_the_background():
    clock = Clock()
    release = threading.Event()
    values = iter(range(100))

    def compute():
        release.wait(5)
        return next(values)

    cache = TimedCache(compute, max_age=1.0, monotonic=clock)
    assert cache.peek() is None  # nothing yet: computed meanwhile
    release.set()
    wait_for(lambda: cache.peek() is not None, timeout=5)
    assert cache.peek().value == 0
    release.clear()
    clock.now += 5
    assert cache.peek().value == 0  # aged: answered at once, recomputed meanwhile
    assert cache.peek().value == 0
    release.set()
    wait_for(lambda: cache.peek().value == 1, timeout=5)
    assert cache.computations == 2


def test_a_slow_value_stays_fresh_longer():
    clock = Clock()

    def slow():
        clock.now += 3.0  # the computation took 3 s
        return "counted"

    cache = TimedCache(slow, max_age=10.0, cost_factor=20.0, monotonic=clock)
    cache.get()
    assert cache.fresh_for == 60.0
    clock.now += 59
    cache.get()
    assert cache.computations == 1
    clock.now += 2
    cache.get()
    assert cache.computations == 2


def test_etags_follow_the_value():
    assert etag_of({"a": 1, "b": [2]}) == etag_of({"b": [2], "a": 1})
    assert etag_of({"a": 1}) != etag_of({"a": 2})
    assert etag_of({}).startswith('"') and etag_of({}).endswith('"')
