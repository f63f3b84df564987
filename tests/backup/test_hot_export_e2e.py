"""An export is taken while the service serves: on a real server, with an export held open
halfway (the client stops reading, so the server's snapshot stays open), submits and runs
go on, and the export, read to its end, is the store as it was when it began."""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

STORED = 30_000
"""Tasks in the store: their lines are more than the sockets' buffers hold, so the server
is still inside its snapshot when the client pauses."""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_export_held_open_blocks_nothing_and_sees_nothing_later(kind, server_factory, request):
    env = {}
    if kind == "postgresql":
        env["TASKY_DATABASE_URL"] = request.getfixturevalue("database")
    server = server_factory(1, env)
    for _ in range(STORED // 10_000):
        resp = server.post("/tasky/v1/workers/echo/batch", {"tasks": [{"delay": 3600}] * 10_000})
        assert resp.status_code == 201, resp.text
    before = server.submit("echo", {"delay": 3600})

    with requests.get(server.url + "/tasky/v1/export", stream=True, timeout=60) as export:
        lines = export.iter_lines(chunk_size=1 << 14)
        header = json.loads(next(lines))
        assert header["counts"] == {"chains": 0, "schedules": 0, "tasks": STORED + 1}
        first = json.loads(next(lines))
        # The export is open (its snapshot too): the service goes on.
        later = [server.submit("echo", {"delay": 3600}) for _ in range(20)]
        ran = server.submit("echo", {"config": {"message": "during"}})
        assert server.wait_finished(ran)["status"] == "completed"
        server.post(f"/tasky/v1/tasks/{before}/cancel")
        records = [first, *(json.loads(line) for line in lines)]
    assert len(records) == STORED + 1
    ids = {r["id"] for r in records}
    assert not ids & {*later, ran}
    assert next(r for r in records if r["id"] == before)["status"] == "scheduled"
    assert server.get(f"/tasky/v1/tasks/{before}").json()["status"] == "canceled"
