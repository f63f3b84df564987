from __future__ import annotations

import json
import threading
import time
import urllib.error
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import marshmallow as ma
import pytest

from tasky.config import Settings
from tasky.worker import Aborted, TaskFailed
from workers.http import Http


class Handler(BaseHTTPRequestHandler):
    """The test server's routes: /json, /text, /echo (the request as JSON), /status/<n>,
    /slow (answers when the test lets it), /to-ftp, /to-json, /to-metadata (redirects);
    anything else is 404."""

    release = threading.Event()
    reached_slow = threading.Event()

    def log_message(self, *args):
        pass

    def send(self, status, body: bytes, content_type: str, **headers):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        if self.path == "/json":
            self.send(200, b'{"hello": "world"}', "application/json; charset=utf-8", X_Test="1")
        elif self.path == "/text":
            self.send(200, "caf\u00e9".encode("latin-1"), "text/plain; charset=latin-1")
        elif self.path == "/echo":
            length = int(self.headers.get("Content-Length", 0))
            request = {
                "method": self.command,
                "body": self.rfile.read(length).decode(),
                "content_type": self.headers.get("Content-Type"),
                "x_token": self.headers.get("X-Token"),
            }
            self.send(200, json.dumps(request).encode(), "application/json")
        elif self.path.startswith("/status/"):
            self.send(int(self.path.rsplit("/", 1)[1]), b"status body", "text/plain")
        elif self.path == "/slow":
            Handler.reached_slow.set()
            Handler.release.wait(30)
            self.send(200, b"late", "text/plain")
        elif self.path == "/to-ftp":
            self.send(302, b"", "text/plain", Location="ftp://127.0.0.1:1/file")
        elif self.path == "/to-json":
            self.send(302, b"", "text/plain", Location="/json")
        elif self.path == "/to-metadata":
            self.send(302, b"", "text/plain", Location="http://169.254.169.254/latest/")
        else:
            self.send_error(404, "no such page")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


@pytest.fixture
def server():
    Handler.release.clear()
    Handler.reached_slow.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()


LOCAL = Settings(http_allow_private=True)
"""The test server is on loopback, which the worker calls only when allowed."""


def run(ctx, settings=LOCAL, **config):
    return Http(settings).perform(Http.Config().load(config), ctx)


@pytest.mark.timeout(30)
def test_get_json(server, ctx):
    output = run(ctx, url=server + "/json")
    assert output["status_code"] == 200
    assert output["body"] == {"hello": "world"}
    assert output["headers"]["X-Test"] == "1"


@pytest.mark.timeout(30)
def test_text_body_is_decoded_with_its_charset(server, ctx):
    assert run(ctx, url=server + "/text")["body"] == "caf\u00e9"


@pytest.mark.timeout(30)
def test_post_json_body(server, ctx):
    output = run(
        ctx, url=server + "/echo", method="post", body={"a": [1, 2]}, headers={"X-Token": "secret"}
    )
    assert output["body"] == {
        "method": "POST",
        "body": '{"a": [1, 2]}',
        "content_type": "application/json",
        "x_token": "secret",
    }


@pytest.mark.timeout(30)
def test_json_body_keeps_a_given_content_type(server, ctx):
    output = run(
        ctx,
        url=server + "/echo",
        method="PUT",
        body=[1],
        headers={"content-type": "application/vnd.api+json"},
    )
    assert output["body"]["content_type"] == "application/vnd.api+json"


@pytest.mark.timeout(30)
def test_string_body_is_sent_as_is(server, ctx):
    output = run(ctx, url=server + "/echo", method="PATCH", body="a=1&b=2")
    assert output["body"]["method"] == "PATCH" and output["body"]["body"] == "a=1&b=2"


@pytest.mark.timeout(30)
def test_head(server, ctx):
    output = run(ctx, url=server + "/json", method="HEAD")
    assert output["status_code"] == 200 and output["body"] == ""


@pytest.mark.timeout(30)
def test_unexpected_status_fails_and_keeps_output(server, ctx):
    with pytest.raises(TaskFailed) as info:
        run(ctx, url=server + "/status/500")
    assert info.value.error == "unexpected status 500"
    assert info.value.output["status_code"] == 500
    assert info.value.output["body"] == "status body"


@pytest.mark.timeout(30)
def test_expect_status_mismatch_fails(server, ctx):
    with pytest.raises(TaskFailed) as info:
        run(ctx, url=server + "/json", expect_status=[201, 204])
    assert info.value.error == "unexpected status 200"
    assert info.value.output["body"] == {"hello": "world"}


@pytest.mark.timeout(30)
def test_404_is_an_answer(server, ctx):
    with pytest.raises(TaskFailed) as info:
        run(ctx, url=server + "/missing")
    assert info.value.output["status_code"] == 404
    assert "no such page" in info.value.output["body"]
    assert run(ctx, url=server + "/missing", expect_status=404)["status_code"] == 404


@pytest.mark.timeout(30)
def test_redirects_only_to_http(server, ctx):
    with pytest.raises(urllib.error.URLError, match="unknown url type"):
        run(ctx, url=server + "/to-ftp")


@pytest.mark.timeout(30)
def test_redirects_are_followed(server, ctx):
    assert run(ctx, url=server + "/to-json")["body"] == {"hello": "world"}


@pytest.mark.timeout(30)
def test_loopback_is_refused_by_default(server, ctx):
    with pytest.raises(TaskFailed) as info:
        run(ctx, Settings(), url=server + "/json")
    assert info.value.error == (
        "127.0.0.1 is loopback; refused unless private addresses are allowed"
        " (TASKY_HTTP_ALLOW_PRIVATE=1)"
    )


@pytest.mark.timeout(30)
def test_a_name_resolving_to_loopback_is_refused_by_default(server, ctx):
    with pytest.raises(TaskFailed, match=r"127\.0\.0\.1 is loopback"):
        run(ctx, Settings(), url=server.replace("127.0.0.1", "localhost") + "/json")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/"]
)
def test_metadata_is_refused_even_when_private_addresses_are_allowed(ctx, url):
    with pytest.raises(TaskFailed) as info:
        run(ctx, url=url)
    assert "is link-local (cloud metadata); always refused" in info.value.error
    assert "TASKY_HTTP_ALLOW_PRIVATE" not in info.value.error


@pytest.mark.timeout(30)
def test_a_redirect_to_metadata_is_refused(server, ctx):
    with pytest.raises(TaskFailed, match=r"^169\.254\.169\.254 is link-local"):
        run(ctx, url=server + "/to-metadata")


@pytest.mark.timeout(30)
def test_connection_refused_fails(ctx):
    with pytest.raises(urllib.error.URLError):
        run(ctx, url="http://127.0.0.1:1/")


@pytest.mark.timeout(30)
def test_body_is_read_one_byte_past_the_output_limit(server, ctx):
    output = run(ctx, replace(LOCAL, output_limit=3), url=server + "/status/200")
    assert output["body"] == "stat"


@pytest.mark.timeout(30)
def test_cancel_during_a_slow_answer_returns_within_a_second(server, ctx, abort):
    aborted_at = []

    def cancel_once_reached():
        Handler.reached_slow.wait(20)
        aborted_at.append(time.monotonic())
        abort.set()

    threading.Thread(target=cancel_once_reached, daemon=True).start()
    with pytest.raises(Aborted):
        run(ctx, url=server + "/slow")
    assert time.monotonic() - aborted_at[0] < 1.0


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "example.com",
        "not a url",
        "",
        "http://",
        "http:///path",
        "http://host:port/",
        "http://host:0/",
        "http://host:70000/",
        "http://host/a b",
        "http://host/\n",
    ],
)
def test_rejects_non_http_urls(url):
    with pytest.raises(ma.ValidationError) as info:
        Http.Config().load({"url": url})
    assert set(info.value.messages) == {"url"}


@pytest.mark.parametrize(
    "url",
    ["http://my_service:8080/x", "https://api/x?a=1#f", "HTTP://[::1]/", "http://u:p@h.io/"],
)
def test_accepts_http_urls(url):
    assert Http.Config().load({"url": url})["url"] == url


def test_defaults_and_normalisation():
    assert Http.Config().load({"url": "https://localhost:8443/x", "method": "delete"}) == {
        "url": "https://localhost:8443/x",
        "method": "DELETE",
        "headers": None,
        "body": None,
        "expect_status": None,
    }


@pytest.mark.parametrize(
    "config",
    [
        {"url": "http://x.io"},
        {
            "url": "http://x.io",
            "method": "post",
            "headers": {"A": "b"},
            "body": {"k": [1]},
            "expect_status": [200, 201],
        },
        {"url": "http://x.io", "body": "text", "expect_status": 204},
    ],
)
def test_config_survives_storage(config):
    """The engine stores ``dump(load(config))`` and loads that again to run the task."""
    schema = Http.Config()
    loaded = schema.load(config)
    assert schema.load(schema.dump(loaded)) == loaded


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("method", "TRACE"),
        ("headers", {"X": 1}),
        ("body", 5),
        ("body", True),
        ("expect_status", "200"),
        ("expect_status", []),
        ("expect_status", [99]),
        ("expect_status", True),
        ("expect_status", [200, 600]),
    ],
)
def test_rejects_bad_fields(field, value):
    with pytest.raises(ma.ValidationError) as info:
        Http.Config().load({"url": "http://example.com", field: value})
    assert set(info.value.messages) == {field}


@pytest.mark.parametrize("value", [200, [200, 204]])
def test_accepts_status_codes(value):
    loaded = Http.Config().load({"url": "http://x.io", "expect_status": value})
    assert loaded["expect_status"] == value
