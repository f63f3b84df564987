from __future__ import annotations

import pytest

from tasky.stores.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path):
    """Every store implementation, each on a real database."""
    store = SQLiteStore(str(tmp_path / "tasks.db"))
    yield store
    store.close()
