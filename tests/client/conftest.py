"""One real gunicorn server per test module for the client and command line tests; a
function-scoped ``server_factory`` for the servers a test needs with settings of its own."""

from __future__ import annotations

import socket

import pytest

from tests.e2e.conftest import Server, server_factory  # noqa: F401


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    started = Server(tmp_path_factory.mktemp("server")).start()
    yield started
    started.stop()


@pytest.fixture
def closed_url() -> str:
    """The URL of a port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
