"""A database that cannot answer (gone, or busy past the wait) under a running server: 503
in SPEC's shape, never a 500. A fault of the statement itself stays a 500."""

from __future__ import annotations

import sqlite3

import pytest

from tasky import create_app
from tasky.config import Settings
from tasky.stores import postgres as postgres_store
from tasky.stores import sqlite as sqlite_store
from tests.api.api_helpers import assert_error
from tests.conftest import start_or_skip
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.timeout(120)


class QuickPool(postgres_store.ConnectionPool):
    """The store's pool, waiting 1 s for a connection rather than 10 s: the same timeout and
    the same answer to it, sooner."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "timeout": 1.0})


@pytest.fixture
def client_of_a_dying_database(tmp_path, monkeypatch):
    monkeypatch.setattr(postgres_store, "ConnectionPool", QuickPool)
    server = start_or_skip(PostgresServer())
    try:
        app = create_app(
            Settings(database_url=server.create_database(), files_root=str(tmp_path), runner="off")
        )
        yield app.test_client(), server
    finally:
        server.stop()


def test_requests_during_a_database_outage_get_503(client_of_a_dying_database):
    client, server = client_of_a_dying_database
    assert client.post("/tasky/v1/workers/echo", json={}).status_code == 201
    server.stop()
    # Each waits for the pool's connection timeout (10 s, here 1 s): a short failover would
    # succeed.
    assert_error(client.post("/tasky/v1/workers/echo", json={}), 503)
    assert_error(client.get("/tasky/v1/health"), 503)


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "tasks.db"
    app = create_app(
        Settings(database_url=f"sqlite:///{path}", files_root=str(tmp_path), runner="off")
    )
    yield app, path
    app.extensions["tasky"].store.close()


def test_a_write_that_waits_past_the_busy_timeout_gets_503(sqlite_app):
    app, path = sqlite_app
    client = app.test_client()
    task_id = client.post("/tasky/v1/workers/echo", json={"delay": 600}).get_json()["task_id"]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        body = assert_error(client.post("/tasky/v1/workers/echo", json={}), 503)
        assert "locked" in body["message"]
        assert client.get(f"/tasky/v1/tasks/{task_id}").status_code == 200  # reads go on
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert client.post("/tasky/v1/workers/echo", json={}).status_code == 201


def test_a_fault_of_the_statement_is_still_a_500(sqlite_app):
    app, path = sqlite_app
    client = app.test_client()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("DROP TABLE tasks")
    other.close()
    body = assert_error(client.get("/tasky/v1/tasks/"), 500)
    assert "no such table" not in body["message"]  # the log has it, not the client
