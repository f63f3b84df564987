"""A runner process's life: ``tasky runner``, headless or attached to HTTP processes.

Headless (``tasky runner``), it runs tasks until SIGTERM or SIGINT, beside any number of
servers and other runners sharing the store. Attached (``--attach``, started by
``tasky.runner.process``), it also answers its HTTP processes on the channel and stops when
its lifeline pipe reads end-of-file. Either way a stop hands its running tasks back.
"""

from __future__ import annotations

import gc
import logging
import os
import select
import signal

from tasky.config import Settings
from tasky.metrics import directory
from tasky.registry import Registry
from tasky.runner import channel
from tasky.runner.runner import Runner
from tasky.stores import open_store

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def run(settings: Settings, attach: str | None = None, lifeline: int | None = None) -> None:
    """Run a runner in this process until it is told to stop."""
    store = open_store(settings.database_url)
    runner = Runner(settings, store, Registry.discover(settings))
    # Signals only write to a wake-up pipe (a handler that took a lock could deadlock the
    # thread it interrupts); this thread waits on it and on the lifeline.
    signalled, signal_end = os.pipe()
    os.set_blocking(signal_end, False)
    signal.set_wakeup_fd(signal_end)
    for number in STOP_SIGNALS:
        signal.signal(number, lambda *_: None)
    # The loaded code lives as long as the process: frozen, the garbage collector stops
    # walking it on every full collection (as the HTTP processes do after loading the app).
    gc.freeze()
    runner.start()
    listener = channel.serve(attach, runner) if attach is not None else None
    try:
        watched = [signalled] if lifeline is None else [signalled, lifeline]
        ready, _, _ = select.select(watched, [], [])
        why = "a signal" if signalled in ready else "its HTTP process is gone"
        logger.info("runner %s stopping: %s", runner.owner, why)
    finally:
        if listener is not None:
            listener.close()
        runner.stop()
        directory.mark_dead(os.getpid())
