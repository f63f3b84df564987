"""Fixtures shared by every suite: a throwaway PostgreSQL server for the session."""

from __future__ import annotations

import os

import pytest

from tests.pg_server import PostgresServer, Unavailable


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of this test session. Where none can start, its tests are
    skipped, loudly, unless ``CI`` is set: there they fail."""
    server = start_or_skip(PostgresServer())
    yield server
    server.stop()


def start_or_skip(server: PostgresServer) -> PostgresServer:
    """Start ``server``; where it cannot start, skip the test loudly (fail it under CI)."""
    try:
        return server.start()
    except Unavailable as exc:
        message = f"PostgreSQL tests NOT RUN: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    """The URL of a database with Tasky's schema, shared by the tests of the session."""
    from tasky.stores.postgres import PostgresStore

    url = postgres_server.create_database()
    PostgresStore(url).close()
    return url


@pytest.fixture
def postgres_url(postgres_database):
    """The URL of a database with Tasky's schema and no rows: the session's database,
    emptied for this test (faster than a new database, as independent)."""
    import psycopg

    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE tasks, task_deps, chains, schedules, runners,"
            " webhooks, webhook_callbacks, webhook_deliveries"
        )
    return postgres_database
