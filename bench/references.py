"""References measured in the benchmark's own process, beside the figures they bound.

``bare_insert``: target 5's reference, a bare SQLite ``executemany`` of the rows the scale
figure stores, into the same schema and indexes (Tasky's migrations, applied by opening a
store on a fresh file), with the store's durability (WAL, ``synchronous=NORMAL``), one
transaction per batch as the batch route commits them. Only the inserts and their commits
are timed; building the rows is not.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bench.noop_worker import NAME as NOOP
from tasky.ids import new_ids
from tasky.models import NewTask
from tasky.stores import open_store
from tasky.stores.rows import insert_rows
from tasky.stores.sqlite import INSERT_TASK


def bare_insert(
    path: Path, n: int, batch: int, first: float, step: float, config: dict | None = None
) -> dict:
    """Rows per second of ``n`` tasks due at ``first + i * step``, inserted ``batch`` at a
    time with ``executemany``."""
    open_store(f"sqlite:///{path}").close()  # the schema and its indexes
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    shared = {} if config is None else config
    spent = 0.0
    try:
        for start in range(0, n, batch):
            count = min(batch, n - start)
            now = time.time()
            rows = insert_rows(
                [
                    NewTask(
                        id=task_id,
                        worker=NOOP,
                        config=shared,
                        execute_at=first + (start + i) * step,
                        created_at=now,
                    )
                    for i, task_id in enumerate(new_ids(now, count))
                ]
            )
            t = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(INSERT_TASK, rows)
            db.execute("COMMIT")
            spent += time.perf_counter() - t
    finally:
        db.close()
    return {"rows_per_s": n / spent, "seconds": spent, "n": n}
