"""The runner's webhook deliveries: a thread that takes due deliveries from the outbox under
a lease and a few threads of their own that send them.

Deliveries never touch the task slots, the scheduler or the executor: a slow or hanging
receiver holds only its delivery's slot, for at most ``TASKY_WEBHOOK_TIMEOUT``. A delivery is
due again when its lease expires (the runner died during the send), so each one goes out at
least once; the receiver tells repeats apart by their ``webhook-id``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from tasky.config import Settings
from tasky.metrics import webhooks as metrics
from tasky.stores.base import Store
from tasky.stores.sql import SQLStore
from tasky.webhooks import sender, signing
from tasky.webhooks.events import Attempt, Delivery, Endpoint
from tasky.webhooks.sender import Answer

logger = logging.getLogger(__name__)

IDLE_POLL = 1.0
"""Seconds between two looks at the outbox when nothing woke the dispatcher (another
process's event on SQLite, an expired lease)."""
PRUNE_EVERY = 60.0
"""Seconds between two prunes of the deliveries older than ``TASKY_RETENTION``."""
JITTER = 0.1
"""A retry waits its delay plus up to this fraction of it, so that the retries of many
deliveries that failed together spread out."""


def next_attempt(
    attempts: int,
    delays: tuple[float, ...],
    answer: Answer,
    now: float,
    rand: Callable[[], float] = random.random,
) -> Attempt:
    """What ``answer`` (of ``sender.send``) makes of the ``attempts``-th attempt: delivered
    (2xx), gone (410: no retry), or due again after ``delays[attempts]`` plus jitter, or after
    the receiver's ``Retry-After`` on 429 or 503; failed once ``delays`` are used up."""
    retry_at = None
    gone = answer.status == 410
    if not answer.delivered and not gone and attempts < len(delays):
        if answer.status in (429, 503) and answer.retry_after is not None:
            delay = answer.retry_after  # the sender bounds it
        else:
            delay = delays[attempts] * (1 + JITTER * rand())
        retry_at = now + delay
    return Attempt(
        delivered=answer.delivered,
        status=answer.status,
        latency=answer.latency,
        answer=answer.body_head,
        error=answer.error,
        retry_at=retry_at,
        gone=gone,
    )


class Deliveries:
    """Started and stopped by the runner; ``wake`` after an event may be stored."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        owner: str,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.store = cast(SQLStore, store)  # every store keeps webhooks (tasky.stores.sql)
        self.owner = owner
        self.clock = clock
        self.slots = settings.webhook_slots
        self._busy = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.slots, thread_name_prefix="tasky-webhook")
        self._thread = threading.Thread(target=self._run, name="tasky-deliveries", daemon=True)
        self._thread.start()
        self.store.subscribe(self.wake)

    def stop(self, wait: float = 5.0) -> None:
        """Stop taking deliveries (the dispatcher gets ``wait`` seconds to see it). An attempt
        on its way ends on its own, within ``TASKY_WEBHOOK_TIMEOUT``; a claimed delivery not
        sent yet is due again once its lease expires."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(wait)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        self._wake.set()

    # -- the dispatcher ----------------------------------------------------------------------

    def _run(self) -> None:
        pruned_at = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() - pruned_at > PRUNE_EVERY:
                    self.store.prune_deliveries(self.clock() - self.settings.retention)
                    pruned_at = time.monotonic()
                wait = self._dispatch()
            except Exception as exc:  # an outage: the next pass tries again
                logger.warning("cannot take webhook deliveries: %s", exc)
                wait = IDLE_POLL
            if wait > 0:
                self._wake.wait(wait)

    def _dispatch(self) -> float:
        """Hand due deliveries to free slots; how long to wait before the next look."""
        with self._lock:
            free = self.slots - self._busy
        if free <= 0:
            return IDLE_POLL  # a slot that frees up wakes the dispatcher
        now = self.clock()
        lease_until = now + self.settings.webhook_timeout + self.settings.lease
        claimed = self.store.claim_deliveries(self.owner, free, now, lease_until)
        for delivery, endpoint in claimed:
            with self._lock:
                self._busy += 1
            assert self._pool is not None
            self._pool.submit(self._deliver, delivery, endpoint)
        if len(claimed) == free:
            return 0.0  # more may be due
        due_at = self.store.next_delivery_at(now)
        if due_at is None:
            return IDLE_POLL
        return min(IDLE_POLL, max(due_at - self.clock(), 0.005))

    # -- one attempt -------------------------------------------------------------------------

    def _deliver(self, delivery: Delivery, endpoint: Endpoint | None) -> None:
        try:
            try:
                attempt = self._attempt(delivery, endpoint)
            except Exception as exc:  # a fault of this side: no attempt would do better
                logger.exception("webhook delivery %s cannot be sent", delivery.id)
                attempt = Attempt(False, None, None, None, f"cannot send: {exc}", retry_at=None)
            recorded = self.store.record_attempt(delivery, attempt, self.clock())
            if recorded:
                metrics.attempted(delivery.event, attempt)
        except Exception:
            logger.exception("webhook delivery %s: attempt not recorded", delivery.id)
        finally:
            with self._lock:
                self._busy -= 1
            self._wake.set()

    def _attempt(self, delivery: Delivery, endpoint: Endpoint | None) -> Attempt:
        now = self.clock()
        if endpoint is not None:
            url, secrets = endpoint.url, endpoint.secrets(now)
        elif delivery.url is not None and self.settings.webhook_secret:
            url, secrets = delivery.url, [self.settings.webhook_secret]
        else:
            error = "TASKY_WEBHOOK_SECRET is not set: a callback cannot be signed"
            return Attempt(False, None, None, None, error, retry_at=None)
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = signing.headers(secrets, delivery.id, int(now), body)
        answer = sender.send(
            url,
            body,
            headers,
            timeout=self.settings.webhook_timeout,
            allow_private=self.settings.webhook_allow_private,
        )
        return next_attempt(delivery.attempts, self.settings.webhook_delays, answer, self.clock())
