from __future__ import annotations

import pytest

from tasky.stores.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """Every store implementation, each on a real database."""
    if request.param == "sqlite":
        store = SQLiteStore(str(tmp_path / "tasks.db"))
    else:
        from tasky.stores.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres_url"))
    yield store
    store.close()
