"""What SQLite and PostgreSQL write differently in the statements both stores share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tasky.stores.rows import Columns, insert_task_sql


@dataclass(frozen=True)
class Dialect:
    """What SQLite and PostgreSQL write differently in the shared statements."""

    qmark: bool
    """Whether the driver takes ``?`` and ``:name`` (sqlite3) rather than psycopg's marks."""
    greatest: str
    """The larger of its arguments: ``max`` in SQLite, ``greatest`` in PostgreSQL."""
    least: str
    key_conflict: str
    """The ``ON CONFLICT`` target of a task's idempotency key (its unique index)."""
    notify: str | None = None
    """An expression that wakes the runners at commit (PostgreSQL's NOTIFY); None where
    nothing listens."""
    lock_row: str = ""
    """Locking clause of a read whose row must stay until the transaction ends."""
    skip_locked: bool = False
    """Whether a bulk change skips the rows another transaction holds, rather than waiting."""

    def sql(self, statement: str) -> str:
        """The statement in the driver's placeholders."""
        return _to_qmark(statement) if self.qmark else statement

    def returning(self, columns: Columns, wake: bool = False) -> str:
        """A RETURNING list of ``columns``; with ``wake``, a statement that changes a row
        also wakes the runners (the extra column is ignored by ``Columns.from_row``)."""
        return f"{columns.sql}, {self.notify}" if wake and self.notify else columns.sql

    def unlocked(self, condition: str) -> str:
        """A WHERE clause of tasks meeting ``condition``, skipping those another
        transaction holds where the database can (they are being changed already)."""
        if not self.skip_locked:
            return condition
        return f"id IN (SELECT id FROM tasks WHERE {condition} FOR UPDATE SKIP LOCKED)"

    @property
    def insert_task(self) -> str:
        """Insert of one ``insert_rows`` row, doing nothing on a stored idempotency key."""
        return f"{insert_task_sql('%s')} ON CONFLICT {self.key_conflict} DO NOTHING"


@lru_cache(maxsize=512)
def _to_qmark(statement: str) -> str:
    return re.sub(r"%\((\w+)\)s", r":\1", statement).replace("%s", "?")
