"""Webhook deliveries in the store: claimed by the runners under a lease, recorded, retried
by clients, pruned (the outbox's reading side; ``tasky.stores.webhooks`` writes it).

A runner takes due deliveries under a lease, as it takes tasks (one statement, skipping rows
another transaction holds on PostgreSQL); a delivery whose lease expired (its runner died
during the send) is due again. The fence of an attempt's record is (id, owner, attempt).
"""

from __future__ import annotations

from typing import Any

from tasky import jsontext
from tasky.errors import NotFound, StateConflict
from tasky.ids import new_ids
from tasky.stores.dialect import Dialect
from tasky.stores.rows import Columns, KeysetPage, marks
from tasky.webhooks.events import Attempt, Delivery, DeliveryPage, Endpoint

ANSWER_LIMIT = 1024
"""Characters of a receiver's answer kept with its delivery."""

ENDPOINT = Columns(Endpoint, {"events": jsontext.loads}, encode={"events": jsontext.dumps})
DELIVERY = Columns(Delivery, {"payload": jsontext.loads}, encode={"payload": jsontext.dumps})
ENDPOINT_COLUMNS = ENDPOINT.sql
DELIVERY_COLUMNS = DELIVERY.sql
INSERT_DELIVERY = (
    f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})"
    f" VALUES ({', '.join(['%s'] * DELIVERY.width)})"
)


class DeliveryStatements:
    """The delivery side of :class:`~tasky.stores.sql.SQLStore` (mixed into it)."""

    dialect: Dialect

    def _execute(self, db: Any, sql: str, params: Any = ()) -> Any:
        raise NotImplementedError

    def _read(self, sql: str, params: Any = ()) -> list[tuple]:
        raise NotImplementedError

    def _released(self, db: Any) -> None:
        raise NotImplementedError

    def get_webhook(self, webhook_id: str) -> Endpoint | None:
        rows = self._read(f"SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE id = %s", (webhook_id,))
        return ENDPOINT.from_row(rows[0]) if rows else None

    def _endpoint(self, webhook_id: str) -> Endpoint:
        endpoint = self.get_webhook(webhook_id)
        if endpoint is None:
            raise no_webhook(webhook_id)
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


def no_webhook(webhook_id: str) -> NotFound:
    return NotFound(f"no webhook {webhook_id!r}")


_ORPHAN_CALLBACKS = (
    "DELETE FROM webhook_callbacks WHERE target_id < %s AND NOT EXISTS (SELECT 1 FROM tasks t"
    " WHERE t.id = target_id) AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.id = target_id)"
    " AND NOT EXISTS (SELECT 1 FROM chains c WHERE c.id = target_id)"
)
