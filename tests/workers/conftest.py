"""A RunContext as the engine builds it, with the abort event the engine would set."""

from __future__ import annotations

import logging
import threading

import pytest

from tasky.worker import RunContext


@pytest.fixture
def abort() -> threading.Event:
    """The task's abort event: set it to cancel the task."""
    return threading.Event()


@pytest.fixture
def ctx(abort) -> RunContext:
    return RunContext(
        task_id="t1",
        attempt=1,
        abort_event=abort,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )
