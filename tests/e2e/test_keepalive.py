"""Clients that poll keep their connection: the server's keep-alive outlasts the pauses of
common polling intervals (gunicorn's own 2 s closed it just as a 2 s poller reused it)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PAUSES = (1.9, 2.0, 2.1, 5.0)
POLLERS_PER_PAUSE = 20
DURATION = 11.0


def test_pollers_keep_their_connection_whatever_their_pause(server_factory):
    server = server_factory()
    task_id = server.submit("echo")
    errors: list[str] = []
    requests_made: list[int] = []
    connections: list[int] = []

    def poll(pause: float) -> None:
        session = requests.Session()
        made, opened = 0, set()
        deadline = time.monotonic() + DURATION
        while time.monotonic() < deadline:
            try:
                response = session.get(f"{server.url}/tasky/v1/tasks/{task_id}/status", timeout=5)
                response.raise_for_status()
                opened.add(id(response.raw._connection))
            except requests.RequestException as exc:
                errors.append(f"pause {pause}: {exc}")
            made += 1
            time.sleep(pause)
        requests_made.append(made)
        connections.append(len(opened))

    threads = [
        threading.Thread(target=poll, args=(pause,))
        for pause in PAUSES
        for _ in range(POLLERS_PER_PAUSE)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(requests_made) >= 300
    assert connections == [1] * len(threads), "a poller had to open a new connection"
