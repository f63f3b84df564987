"""Chains in the store: named steps stored, canceled, retried and deleted together.

A chain's row holds its name, failure policy and idempotency key; its steps are tasks whose
``chain_id`` is the chain's, wired by ``task_deps`` like any dependent task, so a step is
released or skipped by the same transitions as any task (``tasky.stores.deps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tasky.chain_runs import ChainRun
from tasky.errors import ChainNotFound, StateConflict
from tasky.models import Chain, ChainPage, NewTask, Task
from tasky.stores.deps import Dependencies, marks
from tasky.stores.rows import (
    CHAIN,
    CHAIN_COLUMNS,
    TASK_COLUMNS,
    TERMINAL,
    KeysetPage,
    chain_from_row,
    insert_rows,
    insert_task_sql,
    task_from_row,
)

RETRIED = ("failed", "canceled", "skipped")
"""The steps a retry runs again, with every step that depends on them."""


class Chains(Dependencies):
    """The chain side of :class:`~tasky.stores.sql.SQLStore` (mixed into it)."""

    def _read(self, sql: str, params: Any = ()) -> list[tuple]:
        raise NotImplementedError

    def create_chain(self, chain: Chain, steps: list[NewTask]) -> tuple[Chain, bool]:
        with self._write() as db:  # type: ignore[attr-defined]
            stored = self._insert_chain(db, ChainRun(chain, steps))
            if stored is None:
                sql = f"SELECT {CHAIN_COLUMNS} FROM chains WHERE idempotency_key = %s"
                existing = self._execute(db, sql, (chain.idempotency_key,)).fetchone()
                return chain_from_row(existing), False
        return stored, True

    def _insert_chain(self, db: Any, run: ChainRun) -> Chain | None:
        """Store a chain and its steps in ``db``'s transaction; None (nothing stored) when
        its idempotency key is stored already."""
        row = self._execute(
            db,
            f"INSERT INTO chains ({CHAIN_COLUMNS}) VALUES ({', '.join(['%s'] * CHAIN.width)})"
            f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {CHAIN_COLUMNS}",
            CHAIN.to_row(run.chain),
        ).fetchone()
        if row is None:
            return None
        db.cursor().executemany(self.dialect.sql(insert_task_sql("%s")), insert_rows(run.steps))
        self._link(db, run.steps)
        self._released(db)
        return chain_from_row(row)

    def get_chain(self, chain_id: str) -> Chain | None:
        rows = self._read(f"SELECT {CHAIN_COLUMNS} FROM chains WHERE id = %s", (chain_id,))
        return chain_from_row(rows[0]) if rows else None

    def list_chains(self, limit: int, cursor: str | None, name: str | None = None) -> ChainPage:
        page = KeysetPage.of(CHAIN_COLUMNS, "chains", {"name": name}, cursor, limit)
        return ChainPage(*page.read(self._read(page.sql, page.params), chain_from_row))

    def chain_steps(self, chain_id: str) -> list[Task]:
        sql = f"SELECT {TASK_COLUMNS} FROM tasks WHERE chain_id = %s ORDER BY id"
        return [task_from_row(row) for row in self._read(sql, (chain_id,))]

    def chain_counts(self, chain_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        if not chain_ids:
            return {}
        rows = self._read(
            f"SELECT chain_id, status, count(*) FROM tasks WHERE chain_id IN {marks(chain_ids)}"
            f" GROUP BY chain_id, status",
            tuple(chain_ids),
        )
        counts: dict[str, dict[str, int]] = {chain_id: {} for chain_id in chain_ids}
        for chain_id, status, count in rows:
            counts[chain_id][status] = count
        return counts

    def cancel_chain(self, chain_id: str, now: float) -> list[Task]:
        with self._write() as db:  # type: ignore[attr-defined]
            self._lock_chain(db, chain_id)
            self._execute(db, "UPDATE chains SET canceled_at = %s WHERE id = %s", (now, chain_id))
            changed = self._cancel_steps(db, [chain_id], now)
            self._cascade(db, [task.id for task in changed if task.status.is_terminal], now)
        return changed

    def retry_chain(self, chain_id: str, now: float) -> list[Task]:
        with self._write() as db:  # type: ignore[attr-defined]
            self._lock_chain(db, chain_id)
            steps = self._execute(
                db, "SELECT id, status FROM tasks WHERE chain_id = %s", (chain_id,)
            ).fetchall()
            if any(status not in TERMINAL for _, status in steps):
                raise StateConflict("the chain has unfinished steps")
            edges = self._execute(
                db,
                "SELECT d.parent_id, d.child_id FROM task_deps d JOIN tasks c ON c.id = d.child_id"
                " WHERE c.chain_id = %s",
                (chain_id,),
            ).fetchall()
            again = _with_descendants([i for i, status in steps if status in RETRIED], edges)
            if not again:
                raise StateConflict("no failed, canceled or skipped step to run again")
            ids = sorted(again)
            rows = self._execute(
                db,
                f"{_RESET} WHERE id IN {marks(ids)} RETURNING {TASK_COLUMNS}",
                (now, False, *ids),
            )
            reset = [task_from_row(row) for row in rows.fetchall()]
            self._execute(db, "UPDATE chains SET canceled_at = NULL WHERE id = %s", (chain_id,))
            self._settle_then_cascade(db, [t.id for t in reset if t.status == "blocked"], now)
            self._released(db)
        return reset

    def delete_chain(self, chain_id: str) -> None:
        with self._write() as db:  # type: ignore[attr-defined]
            self._lock_chain(db, chain_id)
            sql = f"SELECT 1 FROM tasks WHERE chain_id = %s AND status NOT IN {TERMINAL} LIMIT 1"
            if self._execute(db, sql, (chain_id,)).fetchone() is not None:
                raise StateConflict("the chain has unfinished steps; cancel it first")
            self._execute(db, "DELETE FROM tasks WHERE chain_id = %s", (chain_id,))
            self._execute(db, "DELETE FROM chains WHERE id = %s", (chain_id,))

    def _lock_chain(self, db: Any, chain_id: str) -> None:
        sql = f"SELECT 1 FROM chains WHERE id = %s{self.dialect.lock_row}"
        if self._execute(db, sql, (chain_id,)).fetchone() is None:
            raise ChainNotFound(f"no chain {chain_id!r}")


def _with_descendants(roots: list[str], edges: list[tuple[str, str]]) -> set[str]:
    children: dict[str, list[str]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    found, frontier = set(roots), list(roots)
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


_RESET = (
    "UPDATE tasks SET"
    " status = CASE WHEN depends_on IS NOT NULL THEN 'blocked' ELSE 'queued' END,"
    " execute_at = %s, finished_at = NULL, started_at = NULL, attempts = 0, error = NULL,"
    " output = NULL, output_truncated = %s, skip_reason = NULL, lateness = NULL,"
    " queued_for = 0, ran_for = 0, config = coalesce(config_template, config)"
)
