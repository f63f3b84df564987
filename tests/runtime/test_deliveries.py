"""Webhook deliveries from a running runner to a receiver on 127.0.0.1: signatures checked
with the independent ``standardwebhooks`` package, retries, 410, Retry-After, a receiver that
hangs, a redirect, and refused addresses."""

from __future__ import annotations

import json
import time

from standardwebhooks.webhooks import Webhook

from tasky.requests import WebhookRequest
from tests.metrics.helpers import local_scrape, value
from tests.support import wait_for
from tests.webhooks.receivers import hang, raw_server, receiver

FAST = {"webhook_allow_private": True, "webhook_retries": "0,0.2,0.4", "webhook_timeout": 1.0}
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def hook(service, url, **kw):
    return service.service.webhooks.create(WebhookRequest(url=url, **kw))


def statuses(service, endpoint):
    page = service.service.webhooks.deliveries(endpoint.id)
    return [(d.status, d.attempts, d.last_status) for d in page.deliveries]


def test_a_finished_task_is_delivered_signed(make_runner):
    service = make_runner(**FAST)
    counted = value(local_scrape(), "tasky_webhook_attempts_total", result="delivered")
    with receiver() as rx:
        endpoint = hook(service, rx.url + "/in")
        task = service.submit("probe", {}).task
        wait_for(lambda: rx.received, timeout=10)
    (got,) = rx.received
    payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload["type"] == "task.completed"
    assert payload["data"]["task_id"] == task.id and payload["data"]["output"] == {"attempt": 1}
    assert got.headers["User-Agent"].startswith("Tasky/")
    assert got.headers["Content-Type"] == "application/json"
    wait_for(lambda: statuses(service, endpoint) == [("delivered", 1, 200)])
    wait_for(  # counted once recorded
        lambda: (
            value(local_scrape(), "tasky_webhook_attempts_total", result="delivered") == counted + 1
        )
    )


def test_started_comes_before_completed(make_runner):
    service = make_runner(**FAST)
    with receiver() as rx:
        hook(service, rx.url + "/in", events=["task.started", "task.completed"])
        task = service.submit("probe", {"config": {"mode": "sleep", "sleep": 0.3}}).task
        wait_for(lambda: len(rx.received) == 2)
    events = [json.loads(r.body) for r in rx.received]
    assert [(e["type"], e["data"]["task_id"]) for e in events] == [
        ("task.started", task.id),
        ("task.completed", task.id),
    ]


def test_retries_keep_the_webhook_id_then_fail(make_runner):
    service = make_runner(**FAST)
    with receiver() as rx:
        rx.answers["/in"] = (500, {}, b"nope")
        endpoint = hook(service, rx.url + "/in", events=["task.failed"])
        service.submit("probe", {"config": {"mode": "fail", "fail_times": 9}})
        wait_for(lambda: statuses(service, endpoint) == [("failed", 3, 500)], timeout=15)
    ids = {r.headers["webhook-id"] for r in rx.received}
    stamps = [int(r.headers["webhook-timestamp"]) for r in rx.received]
    assert len(rx.received) == 3 and len(ids) == 1 and stamps == sorted(stamps)
    (delivery,) = service.service.webhooks.deliveries(endpoint.id).deliveries
    assert delivery.last_answer == "nope"


def test_a_410_disables_the_endpoint(make_runner):
    service = make_runner(**FAST)
    with receiver() as rx:
        rx.answers["/gone"] = (410, {}, b"")
        endpoint = hook(service, rx.url + "/gone")
        service.submit("probe", {})
        wait_for(lambda: statuses(service, endpoint) == [("failed", 1, 410)])
        disabled = service.service.webhooks.get(endpoint.id)
        assert disabled.disabled_at is not None and "410" in disabled.disabled_reason
        service.submit("probe", {})
        service.submit("probe", {})
    assert len(rx.received) == 1


def test_retry_after_is_honoured(make_runner):
    service = make_runner(**{**FAST, "webhook_retries": "0,0"})
    with receiver() as rx:
        rx.answers["/busy"] = (503, {"Retry-After": "1"}, b"")
        endpoint = hook(service, rx.url + "/busy")
        service.submit("probe", {})
        wait_for(lambda: len(rx.received) == 2, timeout=10)
        wait_for(lambda: statuses(service, endpoint) == [("failed", 2, 503)])
    first, second = (int(r.headers["webhook-timestamp"]) for r in rx.received)
    assert second - first >= 1


def test_a_hanging_receiver_times_out_and_holds_no_task(make_runner):
    service = make_runner(**{**FAST, "webhook_retries": "0", "webhook_slots": 1})
    with raw_server(hang) as url:
        endpoint = hook(service, url + "/hang")
        started = time.monotonic()
        tasks = [service.submit("probe", {}).task for _ in range(3)]
        wait_for(lambda: all(service.get_task(t.id).status == "completed" for t in tasks))
        assert time.monotonic() - started < 1.0  # the tasks did not wait for the receiver
        wait_for(lambda: statuses(service, endpoint)[-1][0] == "failed", timeout=10)
    (delivery, *_) = reversed(service.service.webhooks.deliveries(endpoint.id).deliveries)
    assert "timed out" in delivery.last_error


def test_a_redirect_is_not_followed(make_runner):
    service = make_runner(**{**FAST, "webhook_retries": "0"})
    with receiver() as rx:
        rx.answers["/moved"] = (302, {"Location": rx.url + "/elsewhere"}, b"")
        endpoint = hook(service, rx.url + "/moved")
        service.submit("probe", {})
        wait_for(lambda: statuses(service, endpoint) == [("failed", 1, 302)])
    assert rx.paths() == ["/moved"]


def test_a_name_of_a_private_address_is_refused_without_the_setting(make_runner):
    service = make_runner(**{**FAST, "webhook_allow_private": False, "webhook_retries": "0"})
    with receiver() as rx:
        port = rx.url.rsplit(":", 1)[1]
        endpoint = hook(service, f"http://localhost:{port}/in")
        service.submit("probe", {})
        wait_for(lambda: statuses(service, endpoint) == [("failed", 1, None)])
    (delivery,) = service.service.webhooks.deliveries(endpoint.id).deliveries
    assert "refused" in delivery.last_error and rx.received == []


def test_a_callback_url_is_signed_with_the_server_secret(make_runner):
    service = make_runner(**FAST, webhook_secret=SECRET)
    with receiver() as rx:
        task = service.submit("probe", {"callback_url": rx.url + "/cb"}).task
        wait_for(lambda: rx.received)
    payload = Webhook(SECRET).verify(rx.received[0].body, rx.received[0].headers)
    assert (payload["type"], payload["data"]["task_id"]) == ("task.completed", task.id)


def test_a_rotated_secret_signs_beside_the_new_one(make_runner):
    service = make_runner(**FAST)
    with receiver() as rx:
        endpoint = hook(service, rx.url + "/in")
        rotated = service.service.webhooks.rotate(endpoint.id)
        service.service.webhooks.test(endpoint.id)
        wait_for(lambda: rx.received)
    got = rx.received[0]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint.secret, rotated.secret):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "ping"
