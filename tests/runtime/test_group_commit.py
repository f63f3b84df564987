"""The recorder's group commit: outcomes that end close together are stored together."""

from __future__ import annotations

import queue
import threading
import time

from tasky.runner.executor import _STOP, RECORD_BATCH, gather


def test_an_outcome_waits_for_those_of_attempts_still_under_way():
    outcomes: queue.SimpleQueue = queue.SimpleQueue()
    threading.Timer(0.05, outcomes.put, ["second"]).start()
    assert gather(outcomes, "first", 1.0, under_way=lambda: True) == ["first", "second"]


def test_with_no_attempt_under_way_it_is_stored_at_once():
    started = time.monotonic()
    assert gather(queue.SimpleQueue(), "first", 5.0, under_way=lambda: False) == ["first"]
    assert time.monotonic() - started < 1.0


def test_the_stop_mark_ends_the_batch_and_a_batch_has_a_bound():
    outcomes: queue.SimpleQueue = queue.SimpleQueue()
    for item in ("second", _STOP, "after"):
        outcomes.put(item)
    assert gather(outcomes, "first", 5.0, under_way=lambda: True) == ["first", "second", _STOP]
    many: queue.SimpleQueue = queue.SimpleQueue()
    for i in range(RECORD_BATCH + 5):
        many.put(i)
    assert len(gather(many, "first", 5.0, under_way=lambda: True)) == RECORD_BATCH
