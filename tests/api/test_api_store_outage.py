"""A database that goes away under a running server: 503 in SPEC's shape, never a 500."""

from __future__ import annotations

import pytest

from tasky import create_app
from tasky.config import Settings
from tests.api.api_helpers import assert_error
from tests.conftest import start_or_skip
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client_of_a_dying_database(tmp_path):
    server = start_or_skip(PostgresServer())
    try:
        app = create_app(Settings(database_url=server.create_database(),
                                  files_root=str(tmp_path)))
        yield app.test_client(), server
    finally:
        server.stop()


def test_requests_during_a_database_outage_get_503(client_of_a_dying_database):
    client, server = client_of_a_dying_database
    assert client.post("/tasky/v1/workers/echo", json={}).status_code == 201
    server.stop()
    # Each waits for the pool's connection timeout (10 s): a short failover would succeed.
    assert_error(client.post("/tasky/v1/workers/echo", json={}), 503)
    assert_error(client.get("/tasky/v1/health"), 503)
