"""One delivery attempt against real receivers on 127.0.0.1."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import standardwebhooks

from tasky.webhooks import signing
from tasky.webhooks.sender import BODY_HEAD, MAX_RETRY_AFTER, parse_retry_after, send
from tests.webhooks.receivers import hang, raw_server, receiver, trickle_body, trickle_head

BODY = json.dumps({"type": "task.completed", "data": {"task_id": "t1"}}).encode()
MARGIN = 1.0
"""How much later than its timeout an attempt may return on a loaded machine."""


def post(url: str, body: bytes = BODY, *, timeout: float = 5.0, allow_private=True, **headers):
    return send(url, body, headers, timeout=timeout, allow_private=allow_private)


@pytest.mark.timeout(30)
def test_a_signed_delivery_verifies_with_standardwebhooks():
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    with receiver() as hook:
        answer = send(hook.url + "/hook", BODY, headers, timeout=5, allow_private=True)
    assert answer.delivered and answer.status == 200 and answer.error is None
    assert answer.body_head == "ok" and answer.retry_after is None
    assert 0 < answer.latency < 5
    [request] = hook.received
    assert request.method == "POST" and request.path == "/hook" and request.body == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("Tasky/")
    assert standardwebhooks.Webhook(secret).verify(request.body, request.headers) == json.loads(
        BODY
    )


@pytest.mark.timeout(30)
def test_the_query_string_is_sent():
    with receiver() as hook:
        post(hook.url + "/hook?token=abc&x=1")
    assert hook.paths() == ["/hook?token=abc&x=1"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [201, 204, 299])
def test_any_2xx_is_delivered(status):
    with receiver() as hook:
        hook.answers["/"] = (status, {}, b"")
        answer = post(hook.url + "/")
    assert answer.status == status and answer.delivered


@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [400, 404, 410, 500])
def test_other_statuses_are_answers_not_deliveries(status):
    with receiver() as hook:
        hook.answers["/"] = (status, {}, b"gone for good")
        answer = post(hook.url + "/")
    assert answer.status == status and not answer.delivered and answer.error is None
    assert answer.body_head == "gone for good"


@pytest.mark.timeout(30)
def test_a_redirect_is_not_followed():
    with receiver() as target, receiver() as hook:
        hook.answers["/"] = (307, {"Location": target.url + "/elsewhere"}, b"")
        answer = post(hook.url + "/")
    assert answer.status == 307 and not answer.delivered
    assert target.received == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_on_429_and_503(status):
    with receiver() as hook:
        hook.answers["/"] = (status, {"Retry-After": "120"}, b"")
        answer = post(hook.url + "/")
    assert answer.status == status and answer.retry_after == 120.0


@pytest.mark.timeout(30)
def test_retry_after_as_an_http_date():
    when = datetime.now(UTC) + timedelta(seconds=300)
    with receiver() as hook:
        hook.answers["/"] = (503, {"Retry-After": format_datetime(when, usegmt=True)}, b"")
        answer = post(hook.url + "/")
    assert 290 <= answer.retry_after <= 300


@pytest.mark.timeout(30)
def test_retry_after_is_ignored_on_other_statuses():
    with receiver() as hook:
        hook.answers["/"] = (500, {"Retry-After": "120"}, b"")
        assert post(hook.url + "/").retry_after is None


def test_parse_retry_after():
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    assert parse_retry_after("0", now) == 0.0
    assert parse_retry_after(" 30 ", now) == 30.0
    assert parse_retry_after("Wed, 02 Dec 2026 01:01:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 02 Dec 2026 00:59:00 GMT", now) == 0.0  # past: now
    assert parse_retry_after("9" * 400, now) == MAX_RETRY_AFTER
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now) == MAX_RETRY_AFTER
    for bad in (None, "", "-5", "1.5", "soon", "\u00b2", "Wed, 99 Foo 2026"):
        assert parse_retry_after(bad, now) is None


@pytest.mark.timeout(30)
def test_the_body_head_is_the_first_kib_decoded_with_replacement():
    with receiver() as hook:
        hook.answers["/"] = (500, {}, b"\xff" + b"a" * 5000)
        answer = post(hook.url + "/")
    assert answer.body_head == "\ufffd" + "a" * (BODY_HEAD - 1)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("peer", [hang, trickle_head], ids=["hangs", "trickles-headers"])
def test_a_receiver_that_never_answers_costs_the_timeout_and_no_more(peer):
    with raw_server(peer) as url:
        deadline = time.monotonic() + 1.0 + MARGIN
        answer = post(url + "/", timeout=1.0)
        assert time.monotonic() < deadline
    assert answer.status is None and not answer.delivered
    assert answer.error == "timed out after 1 s"
    assert 1.0 <= answer.latency < 1.0 + MARGIN


@pytest.mark.timeout(30)
def test_a_trickled_body_is_cut_at_the_timeout_and_the_status_stands():
    with raw_server(trickle_body) as url:
        deadline = time.monotonic() + 1.0 + MARGIN
        answer = post(url + "/", timeout=1.0)
        assert time.monotonic() < deadline
    assert answer.status == 200 and answer.delivered and answer.error is None
    assert set(answer.body_head) <= {"x"} and len(answer.body_head) < BODY_HEAD


@pytest.mark.timeout(30)
def test_a_large_body_is_sent_whole():
    body = json.dumps({"output": "y" * 300_000}).encode()
    with receiver() as hook:
        answer = post(hook.url + "/", body)
    assert answer.delivered and hook.received[0].body == body


@pytest.mark.timeout(30)
def test_a_closed_port_is_an_error_not_an_exception():
    answer = post("http://127.0.0.1:1/")
    assert answer.status is None and not answer.delivered
    assert answer.error.startswith("connection failed: ")


@pytest.mark.timeout(30)
def test_an_unresolvable_name_is_an_error():
    answer = post("http://name-that-does-not-exist.invalid/")
    assert answer.status is None
    assert answer.error.startswith("cannot resolve name-that-does-not-exist.invalid")


@pytest.mark.parametrize("url", ["ftp://example.com/", "not a url", "http:///x"])
def test_a_url_that_is_not_http_is_an_error(url):
    answer = post(url)
    assert answer.status is None and answer.error == "cannot send: not an http or https URL"


@pytest.mark.timeout(30)
def test_loopback_is_refused_without_the_allow_setting():
    with receiver() as hook:
        answer = post(hook.url + "/", allow_private=False)
        named = post(hook.url.replace("127.0.0.1", "localhost") + "/", allow_private=False)
    assert hook.received == []
    assert answer.status is None and not answer.delivered
    assert answer.error == (
        "refused: 127.0.0.1 is loopback; refused unless private addresses are allowed"
    )
    assert named.error.startswith("refused: ") and "is loopback" in named.error


@pytest.mark.timeout(30)
@pytest.mark.parametrize("host", ["169.254.169.254", "[::ffff:169.254.169.254]", "[fe80::1]"])
def test_link_local_is_refused_even_with_the_allow_setting(host):
    answer = post(f"http://{host}/latest/meta-data/", allow_private=True)
    assert answer.status is None
    assert answer.error.startswith("refused: ") and answer.error.endswith("always refused")
    assert "link-local" in answer.error
