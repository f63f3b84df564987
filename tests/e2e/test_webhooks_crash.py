"""A server killed with ``kill -9`` while a delivery is on its way: after a restart the
delivery arrives, under the same ``webhook-id``, signed (checked with ``standardwebhooks``)."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from standardwebhooks.webhooks import Webhook

from tests.support import wait_for
from tests.webhooks.receivers import raw_server, read_request_head

ENV = {
    "TASKY_WEBHOOK_ALLOW_PRIVATE": "1",
    "TASKY_WEBHOOK_TIMEOUT": "3",
    "TASKY_LEASE": "1",
    "TASKY_WEBHOOK_RETRIES": "0,0.2",
}


class FirstHangs:
    """Records each request; never answers the first one, answers 200 to the others."""

    def __init__(self):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, conn: socket.socket, stop: threading.Event) -> None:
        head, _, body = read_request_head(conn).partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines)}
        while len(body) < int(headers.get("content-length", 0)):
            body += conn.recv(4096)
        with self.lock:
            self.requests.append((headers, body))
            first = len(self.requests) == 1
        if first:
            stop.wait(30)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request):
    if request.param == "sqlite":
        return ENV
    return {**ENV, "TASKY_DATABASE_URL": request.getfixturevalue("database")}


@pytest.mark.timeout(120)
def test_a_delivery_interrupted_by_kill_9_arrives_after_restart(server_factory, tmp_path, env):
    behave = FirstHangs()
    with raw_server(behave) as url:
        server = server_factory(env=env)
        made = server.post("/tasky/v1/webhooks", {"url": url + "/in"}).json()
        task_id = server.submit("echo", {"config": {"message": "hi"}})
        wait_for(lambda: behave.requests, timeout=20)  # on its way: the receiver holds it
        server.kill9()
        again = server_factory(env=env, data=tmp_path)
        wait_for(lambda: len(behave.requests) >= 2, timeout=30)
        page = wait_for(
            lambda: (
                (d := again.get(f"/tasky/v1/webhooks/{made['webhook_id']}/deliveries").json())
                and d["deliveries"][0]["status"] == "delivered"
                and d
            ),
            timeout=20,
        )
    (first_headers, _), (headers, body) = behave.requests[:2]
    assert headers["webhook-id"] == first_headers["webhook-id"]
    assert [d["delivery_id"] for d in page["deliveries"]] == [headers["webhook-id"]]
    assert page["deliveries"][0]["attempts"] == 2
    event = Webhook(made["secret"]).verify(body, headers)
    assert event["type"] == "task.completed" and event["data"]["task_id"] == task_id
    assert json.loads(body)["data"]["output"] == {"message": "hi"}
