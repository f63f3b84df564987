"""``tasky.client.Client`` against a real gunicorn server: every method and error class."""

from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tasky.client import (
    BadRequest,
    Client,
    Conflict,
    ConnectionFailed,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Schedule,
    ServerError,
    SubmittedSchedule,
    SubmittedTask,
    Task,
    TaskyClientError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    WaitTimeout,
)
from tasky.client.errors import error_for
from tests.client.proxy import DroppingProxy
from tests.support import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(server):
    with Client(server.url, token="") as c:
        yield c


def submit_task(client: Client, worker: str, config: dict | None = None, **kw) -> SubmittedTask:
    submitted = client.submit(worker, config, **kw)
    assert isinstance(submitted, SubmittedTask)
    return submitted


def test_workers_info_and_statistics(client):
    names = [w.name for w in client.workers()]
    assert {"echo", "sleeper", "bash"} <= set(names)
    info = client.worker_info("Sleeper")
    assert info.name == "sleeper" and info.parameters["seconds"]["type"] == "number"
    done = submit_task(client, "echo", {"message": "count me"})
    client.wait(done.task_id, timeout=20)
    stats = client.worker_statistics("echo")
    assert stats.name == "echo" and stats.completed >= 1
    assert stats.last_finished_at is not None and stats.last_finished_at.tzinfo is not None


def test_submit_wait_status_result_record_statistics(client):
    submitted = submit_task(client, "echo", {"message": "hi"})
    assert submitted.created and submitted.worker == "echo"
    assert submitted.created_at.utcoffset() == timedelta(0)
    final = client.wait(submitted.task_id, timeout=20)
    assert final.status == "completed" and final.attempts == 1
    assert client.status(submitted.task_id).finished_at == final.finished_at
    result = client.result(submitted.task_id)
    assert result.output == {"message": "hi"} and result.error is None
    record = client.task(submitted.task_id)
    assert isinstance(record, Task) and record.config == {"message": "hi"}
    assert record.idempotency_key  # the client made one up
    assert record.raw["task_id"] == submitted.task_id
    stats = client.task_statistics(submitted.task_id)
    assert stats.task_id == submitted.task_id and stats.ran_for is not None


def test_wait_times_out_and_cancel_stops_a_running_task(client):
    submitted = submit_task(client, "sleeper", {"seconds": 30})
    with pytest.raises(WaitTimeout) as caught:
        client.wait(submitted.task_id, timeout=0.3)
    assert isinstance(caught.value, TimeoutError)
    canceled = client.cancel(submitted.task_id)
    assert canceled.status in ("canceled", "canceling")
    assert client.wait(submitted.task_id, timeout=10).status == "canceled"
    with pytest.raises(Conflict) as conflict:
        client.cancel(submitted.task_id)
    assert conflict.value.code == 409 and conflict.value.message


def test_idempotency_key_returns_the_first_task(client):
    key = f"invoice-{uuid.uuid4().hex}"
    first = submit_task(client, "echo", {"message": "once"}, idempotency_key=key)
    second = submit_task(client, "echo", {"message": "once"}, idempotency_key=key)
    assert first.created and not second.created
    assert first.task_id == second.task_id


def test_submit_at_a_time_and_change_pause_resume_run_delete(client):
    later = datetime.now(UTC) + timedelta(hours=1)
    submitted = submit_task(client, "echo", {"message": "draft"}, execute_at=later)
    assert submitted.status == "scheduled"
    assert abs((submitted.execute_at - later).total_seconds()) < 0.01
    changed = client.update(submitted.task_id, config={"message": "final"}, delay=3600)
    assert changed.config == {"message": "final"}
    assert client.pause(submitted.task_id).status == "paused"
    assert client.resume(submitted.task_id).status == "scheduled"
    client.run(submitted.task_id)
    assert client.wait(submitted.task_id, timeout=20).status == "completed"
    with pytest.raises(Conflict):
        client.update(submitted.task_id, timeout=5)
    copy = client.run(submitted.task_id)
    assert copy.task_id != submitted.task_id and copy.config == {"message": "final"}
    client.delete(submitted.task_id)
    with pytest.raises(NotFound):
        client.task(submitted.task_id)


def test_batch_and_pagination_across_pages(client):
    ids = client.submit_batch("echo", [{"config": {"message": str(i)}} for i in range(5)])
    assert len(ids) == 5
    first = client.tasks(worker="echo", limit=2)
    assert len(first.items) == 2 and first.next_cursor is not None
    second = client.tasks(worker="echo", limit=2, cursor=first.next_cursor)
    assert not {t.task_id for t in first.items} & {t.task_id for t in second.items}
    every = [t.task_id for t in client.iter_tasks(worker="echo", page_size=2)]
    assert len(every) == len(set(every)) == len(client.tasks(worker="echo", limit=1000).items)
    assert set(ids) <= set(every)
    assert all(t.worker == "echo" for t in client.iter_tasks(worker="echo", page_size=3))


def test_schedules(client):
    submitted = client.submit("echo", {"message": "tick"}, cron="0 9 * * *", timezone="UTC")
    assert isinstance(submitted, SubmittedSchedule) and submitted.next_run_at.hour == 9
    sid = submitted.schedule_id
    others = [client.submit("echo", interval=3600).schedule_id for _ in range(2)]
    shown = client.schedule(sid)
    assert isinstance(shown, Schedule) and shown.cron == "0 9 * * *" and shown.status == "active"
    assert client.update_schedule(sid, cron="30 10 * * *").next_run_at.minute == 30
    assert client.pause_schedule(sid).status == "paused"
    with pytest.raises(Conflict):
        client.pause_schedule(sid)
    assert client.resume_schedule(sid).status == "active"
    fired = client.run_schedule(sid)
    assert fired.schedule_id == sid
    assert [t.task_id for t in client.tasks(schedule_id=sid).items] == [fired.task_id]
    page = client.schedules(limit=1)
    assert len(page.items) == 1 and page.next_cursor is not None
    listed = [s.schedule_id for s in client.iter_schedules(page_size=1)]
    assert len(listed) == len(set(listed)) and {sid, *others} <= set(listed)
    client.delete_schedule(sid)
    with pytest.raises(NotFound):
        client.schedule(sid)


def test_health_and_runners(client):
    health = client.health()
    assert health.status == "ok" and "echo" in health.workers
    runners = wait_for(client.runners)  # the runner's first heartbeat
    assert all(r.host and r.pid and r.status == "live" and "echo" in r.workers for r in runners)


def test_error_classes(client):
    with pytest.raises(ValidationFailed) as invalid:
        client.submit("sleeper", {"seconds": -1})
    assert invalid.value.code == 422 and "seconds" in invalid.value.errors["config"]
    with pytest.raises(Forbidden) as forbidden:
        client.submit("bash", {"command": "true"})
    assert forbidden.value.code == 403
    with pytest.raises(NotFound):
        client.worker_info("no-such-worker")
    with pytest.raises(MethodNotAllowed):
        client.request("DELETE", "/workers/")
    raw_calls = [
        (b"{not json", "application/json", BadRequest),
        (b"<x/>", "application/xml", UnsupportedMediaType),
    ]
    for body, kind, cls in raw_calls:
        raw = requests.post(
            client.base + "/workers/echo", data=body, headers={"Content-Type": kind}, timeout=10
        )
        error = error_for(raw.status_code, raw.json())
        assert type(error) is cls and error.code == raw.status_code and error.message
    with pytest.raises(PayloadTooLarge):
        client.submit("echo", {"message": "x" * (2 << 20)}, retry=False)
    assert client.health().status == "ok"  # after the server closed that connection
    for cls in (ValidationFailed, Forbidden, NotFound, Conflict, ServerError, ConnectionFailed):
        assert issubclass(cls, TaskyClientError)


def test_unauthorized_without_the_token(server_factory):
    secured = server_factory(env={"TASKY_API_TOKEN": "s3cret"})
    with Client(secured.url, token="") as anonymous:
        assert anonymous.health().status == "ok"  # never needs a token
        with pytest.raises(Unauthorized) as caught:
            anonymous.workers()
        assert caught.value.code == 401
    with Client(secured.url, token="s3cret") as allowed:
        assert allowed.workers()


def test_token_and_url_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("TASKY_URL", server.url + "/")
    monkeypatch.setenv("TASKY_API_TOKEN", "anything")
    with Client() as c:
        assert c.base == server.url + "/tasky/v1"
        assert c.session.headers["Authorization"] == "Bearer anything"
        assert c.health().status == "ok"


def test_unreachable_server(closed_url):
    with Client(closed_url) as c, pytest.raises(ConnectionFailed) as caught:
        c.health()
    assert caught.value.code is None and closed_url in caught.value.message
    assert "Connection refused" in caught.value.message


class Stub:
    """A stand-in HTTP server answering GET ``path`` with ``(code, body)`` of ``answers``."""

    def __init__(self, answers: dict[str, tuple[int, dict]]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                code, body = answers[self.path]
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> Client:
        self.client = Client(self.url)
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.close()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_server_error():
    down = {"code": 503, "status": "Service Unavailable", "message": "store unreachable"}
    with Stub({"/tasky/v1/health": (503, down)}) as c, pytest.raises(ServerError) as caught:
        c.health()
    assert caught.value.code == 503 and caught.value.message == "store unreachable"


def test_runners_are_typed_records():
    runner = {
        "runner_id": "r1",
        "host": "db1",
        "pid": 42,
        "started_at": "2026-12-01T10:00:00Z",
        "heartbeat_at": "2026-12-01T10:00:05.5Z",
        "status": "live",
        "workers": ["echo"],
        "running": {"echo": 2},
    }
    with Stub({"/tasky/v1/runners": (200, {"runners": [runner]})}) as c:
        (found,) = c.runners()
    assert (found.runner_id, found.host, found.pid) == ("r1", "db1", 42)
    assert (found.status, found.workers, found.running) == ("live", ["echo"], {"echo": 2})
    assert found.heartbeat_at - found.started_at == timedelta(seconds=5.5)
    assert found.started_at.tzinfo is not None


def count_echo_tasks(client: Client) -> int:
    return sum(1 for _ in client.iter_tasks(worker="echo", page_size=1000))


def test_a_lost_answer_is_asked_again_with_the_same_key(client):
    before = count_echo_tasks(client)
    proxy = DroppingProxy(client.url, drops=1)
    try:
        with Client(proxy.url) as through:
            submitted = submit_task(through, "echo", {"message": "exactly once"})
    finally:
        proxy.close()
    assert len(proxy.requests) == 2
    keys = {json.loads(body)["idempotency_key"] for body in proxy.requests}
    assert len(keys) == 1
    assert not submitted.created  # the second answer: the task of the first submit
    assert count_echo_tasks(client) == before + 1
    assert client.task(submitted.task_id).idempotency_key == keys.pop()


def test_without_retry_a_lost_answer_is_an_error(client):
    before = count_echo_tasks(client)
    proxy = DroppingProxy(client.url, drops=1)
    try:
        with Client(proxy.url) as through, pytest.raises(ConnectionFailed):
            through.submit("echo", {"message": "sent once"}, retry=False)
    finally:
        proxy.close()
    assert [json.loads(body) for body in proxy.requests] == [{"config": {"message": "sent once"}}]
    assert count_echo_tasks(client) == before + 1  # created, but the caller cannot know its id


def test_export_and_import_stream_through_the_client(client):
    task_id = client.submit("echo", {"message": "kept"}).task_id
    client.wait(task_id, timeout=10)
    backup = io.BytesIO()
    written = client.export(backup)
    lines = backup.getvalue().splitlines()
    assert written == len(backup.getvalue()) and json.loads(lines[0])["kind"] == "tasky-export"
    assert any(json.loads(line).get("id") == task_id for line in lines[1:])
    backup.seek(0)
    report = client.import_(backup)  # into the same store: every id is there already
    assert report["imported"]["tasks"] == 0 and report["rejected"] == 0
    assert report["skipped"]["tasks"] == len(lines) - 1 - report["skipped"]["schedules"]
