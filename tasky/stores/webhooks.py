"""Webhooks in the store: endpoints, submits' callbacks and the outbox of deliveries.

Every transaction that ends a task calls :meth:`WebhookStatements._enqueue_ended` before it
commits (``tasky.stores.deps``), so a delivery is stored with the change that caused it, or
not at all: a crash between the end and the send loses nothing. With no endpoint and no
callback, that costs one indexed read of two small tables per transaction.

A runner takes due deliveries under a lease, as it takes tasks (one statement, skipping rows
another transaction holds on PostgreSQL); a delivery whose lease expired (its runner died
during the send) is due again. The fence of an attempt's record is (id, owner, attempt).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from tasky.errors import NotFound, StateConflict
from tasky.ids import new_ids
from tasky.models import Task
from tasky.stores.dialect import Dialect
from tasky.stores.rows import TASK_COLUMNS, Columns, KeysetPage, chunks, marks, task_from_row
from tasky.webhooks.events import (
    PING,
    TASK_ENDED,
    Attempt,
    Delivery,
    DeliveryPage,
    Endpoint,
    EndpointPage,
    ping_payload,
    task_payload,
)

NewDelivery = tuple[str | None, str | None, str, dict[str, Any]]
"""A delivery to store: ``(webhook_id, url, event, payload)``."""
OUTPUT_LIMIT = 64 * 1024
"""Bytes of a task's output (as JSON) that an event carries; a larger one is left out."""
ANSWER_LIMIT = 1024
"""Characters of a receiver's answer kept with its delivery."""

ENDPOINT = Columns(Endpoint, {"events": json.loads}, encode={"events": json.dumps})
DELIVERY = Columns(Delivery, {"payload": json.loads}, encode={"payload": json.dumps})
ENDPOINT_COLUMNS = ENDPOINT.sql
DELIVERY_COLUMNS = DELIVERY.sql
INSERT_DELIVERY = (
    f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})"
    f" VALUES ({', '.join(['%s'] * DELIVERY.width)})"
)
EDITABLE = {"url", "events", "worker", "chain_id", "schedule_id", "description"}
"""The fields of an endpoint that ``update_webhook`` may change."""
_LISTENERS = (
    f"SELECT {ENDPOINT_COLUMNS}, NULL FROM webhooks WHERE disabled_at IS NULL"
    f" UNION ALL SELECT target_id, url, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL,"
    f" NULL, 0, 'callback' FROM webhook_callbacks WHERE target_id IN {{ids}}"
)
"""The enabled endpoints, and the callbacks of the given targets (a task, its schedule, its
chain): one round trip. A callback's row is marked by its last column."""


class WebhookStatements:
    """The webhook side of :class:`~tasky.stores.sql.SQLStore` (mixed into it)."""

    dialect: Dialect

    def _execute(self, db: Any, sql: str, params: Any = ()) -> Any:
        raise NotImplementedError

    def _read(self, sql: str, params: Any = ()) -> list[tuple]:
        raise NotImplementedError

    def _released(self, db: Any) -> None:
        raise NotImplementedError

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

    def _enqueue(self, db: Any, events: list[tuple[str, Task]], now: float) -> None:
        if not events:
            return
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
            ids = (task.id, task.schedule_id, task.chain_id)
            urls.extend((None, callbacks[i]) for i in ids if i in callbacks)
            if urls:
                payload = task_payload(event, task, now, OUTPUT_LIMIT)
                rows.extend((webhook_id, url, event, payload) for webhook_id, url in urls)
        self._insert_deliveries(db, rows, now)

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
        return endpoint

    def get_webhook(self, webhook_id: str) -> Endpoint | None:
        rows = self._read(f"SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE id = %s", (webhook_id,))
        return ENDPOINT.from_row(rows[0]) if rows else None

    def list_webhooks(self, limit: int, cursor: str | None) -> EndpointPage:
        page = KeysetPage.of(ENDPOINT_COLUMNS, "webhooks", {}, cursor, limit)
        return EndpointPage(*page.read(self._read(page.sql, page.params), ENDPOINT.from_row))

    def update_webhook(self, webhook_id: str, changes: dict[str, Any]) -> Endpoint:
        """Set the given fields (``EDITABLE`` ones; ``secret`` and ``previous_secret`` /
        ``previous_until`` for a rotation; ``disabled_at`` None enables it again)."""
        if not changes:
            return self._endpoint(webhook_id)
        params = {k: json.dumps(v) if k == "events" else v for k, v in changes.items()}
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        with self._write() as db:  # type: ignore[attr-defined]
            row = self._execute(
                db,
                f"UPDATE webhooks SET {assignments} WHERE id = %(id)s RETURNING {ENDPOINT_COLUMNS}",
                {**params, "id": webhook_id},
            ).fetchone()
        if row is None:
            raise _no_webhook(webhook_id)
        return ENDPOINT.from_row(row)

    def delete_webhook(self, webhook_id: str) -> None:
        """Remove the endpoint and its deliveries."""
        with self._write() as db:  # type: ignore[attr-defined]
            self._execute(db, "DELETE FROM webhook_deliveries WHERE webhook_id = %s", (webhook_id,))
            gone = self._execute(db, "DELETE FROM webhooks WHERE id = %s", (webhook_id,))
            if not gone.rowcount:
                raise _no_webhook(webhook_id)

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

    def _endpoint(self, webhook_id: str) -> Endpoint:
        endpoint = self.get_webhook(webhook_id)
        if endpoint is None:
            raise _no_webhook(webhook_id)
        return endpoint

    # -- deliveries --------------------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        sql = f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = %s"
        rows = self._read(sql, (delivery_id,))
        return DELIVERY.from_row(rows[0]) if rows else None

    def list_deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> DeliveryPage:
        """An endpoint's deliveries, newest first, keyset-paginated. Raises ``NotFound``."""
        self._endpoint(webhook_id)
        equal = {"webhook_id": webhook_id}
        page = KeysetPage.of(DELIVERY_COLUMNS, "webhook_deliveries", equal, cursor, limit)
        return DeliveryPage(*page.read(self._read(page.sql, page.params), DELIVERY.from_row))

    def retry_delivery(self, delivery_id: str, now: float) -> Delivery:
        """Make a delivery that is not being sent due now, with a fresh count of attempts
        (its id stays). Raises ``NotFound``, or ``StateConflict`` while an attempt is on
        its way or when its endpoint is disabled."""
        with self._write() as db:  # type: ignore[attr-defined]
            row = self._execute(
                db,
                f"UPDATE webhook_deliveries SET status = 'pending', attempts = 0,"
                f" next_attempt_at = %(now)s, delivered_at = NULL WHERE id = %(id)s"
                f" AND (lease_until IS NULL OR lease_until < %(now)s) AND (webhook_id IS NULL"
                f" OR webhook_id IN (SELECT id FROM webhooks WHERE disabled_at IS NULL))"
                f" RETURNING {DELIVERY_COLUMNS}",
                {"id": delivery_id, "now": now},
            ).fetchone()
            if row is not None:
                self._released(db)
                return DELIVERY.from_row(row)
        if self.get_delivery(delivery_id) is None:
            raise NotFound(f"no webhook delivery {delivery_id!r}")
        raise StateConflict("the delivery is being sent, or its webhook is disabled")

    def next_delivery_at(self, now: float) -> float | None:
        """When the first pending delivery that no live lease holds is due."""
        sql = (
            "SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending'"
            " AND (lease_until IS NULL OR lease_until < %s) ORDER BY next_attempt_at LIMIT 1"
        )
        rows = self._read(sql, (now,))
        return rows[0][0] if rows else None

    def claim_deliveries(
        self, owner: str, limit: int, now: float, lease_until: float
    ) -> list[tuple[Delivery, Endpoint | None]]:
        """Take up to ``limit`` due pending deliveries (earliest first) that no live lease
        holds, under ``owner``'s lease, counting an attempt; each with its endpoint (None for
        a callback's). Each delivery is taken by exactly one caller."""
        skip = " FOR UPDATE SKIP LOCKED" if self.dialect.skip_locked else ""
        with self._write() as db:  # type: ignore[attr-defined]
            rows = self._execute(
                db,
                f"UPDATE webhook_deliveries SET owner = %(owner)s, lease_until = %(until)s,"
                f" attempts = attempts + 1 WHERE id IN (SELECT id FROM webhook_deliveries"
                f" WHERE status = 'pending' AND next_attempt_at <= %(now)s"
                f" AND (lease_until IS NULL OR lease_until < %(now)s)"
                f" ORDER BY next_attempt_at, id LIMIT %(limit)s{skip})"
                f" RETURNING {DELIVERY_COLUMNS}",
                {"owner": owner, "until": lease_until, "now": now, "limit": limit},
            ).fetchall()
            deliveries = sorted(map(DELIVERY.from_row, rows), key=lambda d: d.next_attempt_at)
            ids = sorted({d.webhook_id for d in deliveries if d.webhook_id})
            endpoints = {}
            if ids:
                sql = f"SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE id IN {marks(ids)}"
                endpoints = {e.id: e for e in map(ENDPOINT.from_row, self._execute(db, sql, ids))}
        return [(d, endpoints.get(d.webhook_id or "")) for d in deliveries]

    def record_attempt(self, delivery: Delivery, attempt: Attempt, now: float) -> bool:
        """Record an attempt of a claimed ``delivery`` (fenced by its id, owner and attempt):
        ``delivered``, ``pending`` again at ``retry_at``, or ``failed``. A 410 (``gone``)
        disables the endpoint and fails its pending deliveries too. False when the fence no
        longer held (the lease expired and another runner took the delivery)."""
        if attempt.delivered:
            status = "delivered"
        else:
            status = "pending" if attempt.retry_at is not None else "failed"
        answer = None if attempt.answer is None else attempt.answer[:ANSWER_LIMIT]
        with self._write() as db:  # type: ignore[attr-defined]
            changed = self._execute(
                db,
                "UPDATE webhook_deliveries SET status = %(status)s,"
                " next_attempt_at = coalesce(%(retry_at)s, next_attempt_at),"
                " owner = NULL, lease_until = NULL, last_status = %(code)s,"
                " last_latency = %(latency)s, last_answer = %(answer)s, last_error = %(error)s,"
                " delivered_at = %(delivered_at)s WHERE id = %(id)s AND owner = %(owner)s"
                " AND attempts = %(attempts)s AND status = 'pending'",
                {
                    "status": status,
                    "retry_at": attempt.retry_at,
                    "code": attempt.status,
                    "latency": attempt.latency,
                    "answer": answer,
                    "error": attempt.error,
                    "delivered_at": now if attempt.delivered else None,
                    "id": delivery.id,
                    "owner": delivery.owner,
                    "attempts": delivery.attempts,
                },
            ).rowcount
            if changed and attempt.gone and delivery.webhook_id is not None:
                self._disable(db, delivery.webhook_id, "the receiver answered 410 Gone", now)
        return bool(changed)

    def _disable(self, db: Any, webhook_id: str, reason: str, now: float) -> None:
        self._execute(
            db,
            "UPDATE webhooks SET disabled_at = %s, disabled_reason = %s WHERE id = %s",
            (now, reason, webhook_id),
        )
        self._execute(
            db,
            "UPDATE webhook_deliveries SET status = 'failed', last_error = %s, owner = NULL,"
            " lease_until = NULL WHERE webhook_id = %s AND status = 'pending'",
            (f"webhook disabled: {reason}", webhook_id),
        )

    def delivery_counts(self) -> dict[str, int]:
        """How many deliveries each status has."""
        sql = "SELECT status, count(*) FROM webhook_deliveries GROUP BY status"
        return dict(self._read(sql))

    def prune_deliveries(self, finished_before: float) -> int:
        """Delete deliveries delivered or failed before that instant (by their last
        attempt's due time), and callbacks whose target is gone; how many deliveries went."""
        with self._write() as db:  # type: ignore[attr-defined]
            gone = self._execute(
                db,
                "DELETE FROM webhook_deliveries WHERE status != 'pending' AND next_attempt_at < %s",
                (finished_before,),
            ).rowcount
            # Ids are time-ordered: a callback stored just before its target is kept.
            self._execute(db, _ORPHAN_CALLBACKS, (new_ids(finished_before, 1)[0],))
        return gone


def _no_webhook(webhook_id: str) -> NotFound:
    return NotFound(f"no webhook {webhook_id!r}")


_ANY_LISTENER = (
    "SELECT 1 FROM webhooks WHERE disabled_at IS NULL"
    " UNION ALL SELECT 1 FROM webhook_callbacks LIMIT 1"
)
_ORPHAN_CALLBACKS = (
    "DELETE FROM webhook_callbacks WHERE target_id < %s AND NOT EXISTS (SELECT 1 FROM tasks t"
    " WHERE t.id = target_id) AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.id = target_id)"
    " AND NOT EXISTS (SELECT 1 FROM chains c WHERE c.id = target_id)"
)
