"""Webhooks in the store: endpoints, submits' callbacks and the outbox of deliveries.

Every transaction that ends a task calls :meth:`WebhookStatements._enqueue_ended` before it
commits (``tasky.stores.deps``), so a delivery is stored with the change that caused it, or
not at all: a crash between the end and the send loses nothing. While no endpoint and no
callback is stored, that costs one constant read (``_ANY_LISTENER``) per transaction.

The runners' side of the outbox is ``tasky.stores.deliveries``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from tasky import jsontext
from tasky.chain_runs import chain_status
from tasky.errors import StateConflict
from tasky.ids import new_ids
from tasky.models import Task
from tasky.stores.deliveries import (
    DELIVERY,
    ENDPOINT,
    ENDPOINT_COLUMNS,
    INSERT_DELIVERY,
    DeliveryStatements,
    no_webhook,
)
from tasky.stores.dialect import Dialect
from tasky.stores.rows import TASK_COLUMNS, KeysetPage, chunks, marks, task_from_row
from tasky.webhooks.events import (
    CHAIN_ENDED,
    MISFIRED,
    PING,
    STARTED,
    TASK_ENDED,
    Delivery,
    Endpoint,
    EndpointPage,
    chain_payload,
    misfire_payload,
    ping_payload,
    task_payload,
)

CHAIN_EVENTS = set(CHAIN_ENDED.values())
STARTED_TTL = 1.0
"""Seconds a claim trusts its last reading of whether ``task.started`` is subscribed to."""

NewDelivery = tuple[str | None, str | None, str, dict[str, Any]]
"""A delivery to store: ``(webhook_id, url, event, payload)``."""
OUTPUT_LIMIT = 64 * 1024
"""Bytes of a task's output (as JSON) that an event carries; a larger one is left out."""
EDITABLE = {"url", "events", "worker", "chain_id", "schedule_id", "description"}
"""The fields of an endpoint that ``update_webhook`` may change."""
_LISTENERS = (
    f"SELECT {ENDPOINT_COLUMNS}, NULL FROM webhooks WHERE disabled_at IS NULL"
    f" UNION ALL SELECT target_id, url, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL,"
    f" NULL, 0, 'callback' FROM webhook_callbacks WHERE target_id IN {{ids}}"
)
"""The enabled endpoints, and the callbacks of the given targets (a task, its schedule, its
chain): one round trip. A callback's row is marked by its last column."""


class WebhookStatements(DeliveryStatements):
    """The webhook side of :class:`~tasky.stores.sql.SQLStore` (mixed into it)."""

    dialect: Dialect
    _started_read_at = float("-inf")
    _started_wanted = False

    # -- the outbox, written by the transitions ----------------------------------------------

    def _enqueue_ended(self, db: Any, tasks: Iterable[Task], now: float) -> None:
        """Store the deliveries of the terminal events of ``tasks`` (ended in ``db``'s
        transaction) for every endpoint and callback that wants them."""
        events = [(TASK_ENDED[task.status], task) for task in tasks if task.status in TASK_ENDED]
        if events and self._execute(db, _ANY_LISTENER).fetchone():
            self._enqueue(db, events, now)

    def _enqueue_ended_ids(self, db: Any, ids: Sequence[str], now: float) -> None:
        """As :meth:`_enqueue_ended`, for tasks known by id (read only when someone
        listens)."""
        if not ids or not self._execute(db, _ANY_LISTENER).fetchone():
            return  # checked first: the tasks are read only when someone listens
        tasks: list[Task] = []
        for part in chunks(sorted(ids)):
            sql = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id IN {marks(part)}"
            tasks.extend(task_from_row(row) for row in self._execute(db, sql, part))
        events = [(TASK_ENDED[task.status], task) for task in tasks if task.status in TASK_ENDED]
        self._enqueue(db, events, now)

    def _started_watched(self) -> bool:
        """Whether an enabled endpoint subscribes to ``task.started``, as read at most
        ``STARTED_TTL`` ago: a claim, the runners' hottest statement, then takes a transaction
        that stores those events too. This process's own changes of endpoints are seen at
        once; another's within ``STARTED_TTL``."""
        now = time.monotonic()
        if now - self._started_read_at > STARTED_TTL:
            rows = self._read(_STARTED_WANTED, (f'%"{STARTED}"%',))
            self._started_read_at = now
            self._started_wanted = bool(rows)
        return self._started_wanted

    def _claim_announced(self, sql: str, params: Any, now: float) -> list[tuple]:
        """Run a claim statement in a transaction that stores the ``task.started``
        deliveries of what it claimed; its rows."""
        with self._write() as db:  # type: ignore[attr-defined]
            rows = self._execute(db, sql, params).fetchall()
            started = [(STARTED, task_from_row(row)) for row in rows]
            if started:
                self._enqueue(db, started, now)
        return rows

    def _enqueue(self, db: Any, events: list[tuple[str, Task]], now: float) -> None:
        if not events:
            return
        ended = events[0][0] != STARTED
        targets = sorted(
            {t for _, task in events for t in (task.id, task.schedule_id, task.chain_id) if t}
        )
        endpoints: list[Endpoint] = []
        callbacks: dict[str, str] = {}
        for index, part in enumerate(chunks(targets)):
            sql = _LISTENERS if index == 0 else _LISTENERS.split(" UNION ALL ")[1]
            for row in self._execute(db, sql.format(ids=marks(part)), part):
                if row[-1] is None:
                    endpoints.append(ENDPOINT.from_row(row))
                else:
                    callbacks[row[0]] = row[1]
        rows: list[NewDelivery] = []
        for event, task in events:
            urls: list[tuple[str | None, str | None]]
            urls = [(e.id, None) for e in endpoints if e.wants(event, task)]
            ids = (task.id, task.schedule_id, task.chain_id) if ended else ()
            urls.extend((None, callbacks[i]) for i in ids if i in callbacks)
            if urls:
                payload = task_payload(event, task, now, OUTPUT_LIMIT)
                rows.extend((webhook_id, url, event, payload) for webhook_id, url in urls)
        wanted = any(set(e.events) & CHAIN_EVENTS for e in endpoints) or callbacks
        steps = {task.chain_id: task for _, task in events if task.chain_id}
        if steps and wanted and ended:
            rows.extend(self._chain_ends(db, steps, endpoints, callbacks, now))
        self._insert_deliveries(db, rows, now)

    def _chain_ends(
        self,
        db: Any,
        steps: dict[str, Task],
        endpoints: list[Endpoint],
        callbacks: dict[str, str],
        now: float,
    ) -> list[NewDelivery]:
        """The deliveries of the chains (each named by one of its steps that ended in this
        transaction) that have ended now; those which ended before had no step left to end."""
        ids = sorted(steps)
        counts: dict[str, dict[str, int]] = {}
        chains: dict[str, tuple[str | None, float | None]] = {}
        for chain_id, name, canceled_at, status, count in self._execute(
            db, _CHAIN_COUNTS.format(ids=marks(ids)), ids
        ):
            counts.setdefault(chain_id, {})[status] = count
            chains[chain_id] = (name, canceled_at)
        rows: list[NewDelivery] = []
        for chain_id, (name, canceled_at) in chains.items():
            event = CHAIN_ENDED.get(chain_status(counts[chain_id], canceled_at))
            if event is None:
                continue
            step = steps[chain_id]
            urls: list[tuple[str | None, str | None]]
            urls = [(e.id, None) for e in endpoints if e.wants(event, step)]
            urls.extend(
                (None, callbacks[i]) for i in (chain_id, step.schedule_id) if i in callbacks
            )
            if urls:
                payload = chain_payload(event, chain_id, name, counts[chain_id], step, now)
                rows.extend((webhook_id, url, event, payload) for webhook_id, url in urls)
        return rows

    def _enqueue_misfire(
        self, db: Any, schedule_id: str, due_at: float, run: Task | None, now: float
    ) -> None:
        """Store the ``schedule.misfired`` deliveries of a late tick (in its transaction)."""
        rows = self._execute(db, _MISFIRE_LISTENERS, (f'%"{MISFIRED}"%',)).fetchall()
        if not rows:
            return
        sql = "SELECT worker, misfire FROM schedules WHERE id = %s"
        worker, policy = self._execute(db, sql, (schedule_id,)).fetchone()
        run_id = None if run is None else run.id
        payload = misfire_payload(schedule_id, worker, policy, due_at, run_id, now)
        deliveries: list[NewDelivery] = [
            (e.id, None, MISFIRED, payload)
            for e in map(ENDPOINT.from_row, rows)
            if e.wants_misfire(schedule_id, worker)
        ]
        self._insert_deliveries(db, deliveries, now)

    def _insert_deliveries(self, db: Any, rows: list[NewDelivery], now: float) -> list[Delivery]:
        """Insert pending deliveries ``(webhook_id, url, event, payload)``, due now, and wake
        the runners at commit."""
        if not rows:
            return []
        deliveries = [
            Delivery(
                delivery_id, webhook_id, url, event, payload, "pending", 0, now, created_at=now
            )
            for delivery_id, (webhook_id, url, event, payload) in zip(
                new_ids(now, len(rows)), rows, strict=True
            )
        ]
        cursor = db.cursor()
        cursor.executemany(self.dialect.sql(INSERT_DELIVERY), map(DELIVERY.to_row, deliveries))
        self._released(db)
        return deliveries

    # -- endpoints ---------------------------------------------------------------------------

    def create_webhook(self, endpoint: Endpoint) -> Endpoint:
        marks_ = ", ".join(["%s"] * ENDPOINT.width)
        with self._write() as db:  # type: ignore[attr-defined]
            sql = f"INSERT INTO webhooks ({ENDPOINT_COLUMNS}) VALUES ({marks_})"
            self._execute(db, sql, ENDPOINT.to_row(endpoint))
        self._started_read_at = float("-inf")
        return endpoint

    def list_webhooks(self, limit: int, cursor: str | None) -> EndpointPage:
        page = KeysetPage.of(ENDPOINT_COLUMNS, "webhooks", {}, cursor, limit)
        return EndpointPage(*page.read(self._read(page.sql, page.params), ENDPOINT.from_row))

    def update_webhook(self, webhook_id: str, changes: dict[str, Any]) -> Endpoint:
        """Set the given fields (``EDITABLE`` ones; ``secret`` and ``previous_secret`` /
        ``previous_until`` for a rotation; ``disabled_at`` None enables it again)."""
        if not changes:
            return self._endpoint(webhook_id)
        params = {k: jsontext.dumps(v) if k == "events" else v for k, v in changes.items()}
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        with self._write() as db:  # type: ignore[attr-defined]
            row = self._execute(
                db,
                f"UPDATE webhooks SET {assignments} WHERE id = %(id)s RETURNING {ENDPOINT_COLUMNS}",
                {**params, "id": webhook_id},
            ).fetchone()
        self._started_read_at = float("-inf")
        if row is None:
            raise no_webhook(webhook_id)
        return ENDPOINT.from_row(row)

    def delete_webhook(self, webhook_id: str) -> None:
        """Remove the endpoint and its deliveries."""
        with self._write() as db:  # type: ignore[attr-defined]
            self._execute(db, "DELETE FROM webhook_deliveries WHERE webhook_id = %s", (webhook_id,))
            gone = self._execute(db, "DELETE FROM webhooks WHERE id = %s", (webhook_id,))
            if not gone.rowcount:
                raise no_webhook(webhook_id)

    def ping_webhook(self, webhook_id: str, now: float) -> Delivery:
        """Store a ``ping`` delivery for the endpoint. Raises ``NotFound``, or
        ``StateConflict`` when the endpoint is disabled."""
        endpoint = self._endpoint(webhook_id)
        if endpoint.disabled_at is not None:
            raise StateConflict("the webhook is disabled")
        with self._write() as db:  # type: ignore[attr-defined]
            row: NewDelivery = (webhook_id, None, PING, ping_payload(webhook_id, now))
            return self._insert_deliveries(db, [row], now)[0]

    def add_callbacks(self, callbacks: Sequence[tuple[str, str]]) -> None:
        """Record ``(target_id, url)``: the terminal events of the task, schedule or chain
        ``target_id`` go to ``url`` too. Stored before its target, so that no event of the
        target can come before its callback."""
        with self._write() as db:  # type: ignore[attr-defined]
            sql = "INSERT INTO webhook_callbacks (target_id, url) VALUES (%s, %s)"
            db.cursor().executemany(self.dialect.sql(sql), callbacks)


_ANY_LISTENER = (
    "SELECT 1 FROM webhooks WHERE disabled_at IS NULL"
    " UNION ALL SELECT 1 FROM webhook_callbacks LIMIT 1"
)
_MISFIRE_LISTENERS = (
    f"SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE disabled_at IS NULL AND events LIKE %s"
)
_STARTED_WANTED = "SELECT 1 FROM webhooks WHERE disabled_at IS NULL AND events LIKE %s LIMIT 1"
_CHAIN_COUNTS = (
    "SELECT c.id, c.name, c.canceled_at, t.status, count(*) FROM chains c"
    " JOIN tasks t ON t.chain_id = c.id WHERE c.id IN {ids}"
    " GROUP BY c.id, c.name, c.canceled_at, t.status"
)
