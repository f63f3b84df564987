"""The recorder's group commit: outcomes that end close together are stored together."""

from __future__ import annotations

import threading
import time

import pytest

from tasky.models import Outcome, TaskState
from tasky.runner.executor import GroupCommit


def outcome(task_id: str) -> Outcome:
    return Outcome(task_id, "runner", 1, TaskState.COMPLETED, time.time())


def ids(batch: list[Outcome]) -> list[str]:
    return [o.task_id for o in batch]


@pytest.mark.parametrize(
    ("last", "stored"),
    [("second", ["first", "second"]), (None, ["first"])],
    ids=["stored", "not stored"],
)
def test_an_outcome_waits_for_the_attempts_still_under_way(last, stored):
    """The last attempt's end completes the batch, whether its outcome is stored or not."""
    outcomes = GroupCommit(wait=5.0, limit=10)
    outcomes.begin()
    outcomes.begin()
    outcomes.end(outcome("first"))
    threading.Timer(0.05, outcomes.end, [last and outcome(last)]).start()
    started = time.monotonic()
    batch, stopping = outcomes.next_batch()
    assert ids(batch) == stored and not stopping
    assert time.monotonic() - started < 4.0  # the last attempt's end, not the wait, ended it


def test_with_no_attempt_under_way_it_is_stored_at_once():
    outcomes = GroupCommit(wait=5.0, limit=10)
    outcomes.begin()
    outcomes.end(outcome("only"))
    started = time.monotonic()
    assert ids(outcomes.next_batch()[0]) == ["only"]
    assert time.monotonic() - started < 1.0


def test_the_first_outcome_waits_at_most_the_wait():
    outcomes = GroupCommit(wait=0.05, limit=10)
    outcomes.begin()
    outcomes.begin()  # still running when the batch goes
    outcomes.end(outcome("first"))
    assert ids(outcomes.next_batch()[0]) == ["first"]


def test_a_batch_has_a_bound():
    outcomes = GroupCommit(wait=5.0, limit=3)
    for _ in range(6):  # one more under way than ends: only the bound ends the first batch
        outcomes.begin()
    for i in range(5):
        outcomes.end(outcome(str(i)))
    assert ids(outcomes.next_batch()[0]) == ["0", "1", "2"]


def test_the_stop_takes_what_waits_and_ends_the_batches():
    outcomes = GroupCommit(wait=5.0, limit=10)
    outcomes.begin()
    outcomes.begin()
    outcomes.end(outcome("last"))
    outcomes.stop()
    batch, stopping = outcomes.next_batch()
    assert ids(batch) == ["last"] and stopping


def test_the_stop_wakes_a_recorder_with_nothing_to_store():
    outcomes = GroupCommit(wait=5.0, limit=10)
    threading.Timer(0.05, outcomes.stop).start()
    assert outcomes.next_batch() == ([], True)
