"""``http``: calls a URL, typically another service's API on a schedule.

The request runs in a daemon helper thread while ``perform`` watches for a cancel, so a
cancel ends the task at once even while the server is slow to answer; the abandoned
request ends with its socket timeout. An HTTP error status is an answer like any other:
its status, headers and body make the output, and ``expect_status`` decides the outcome.
Every connection, a redirect's included, goes through ``tasky.netguard``: link-local and
cloud metadata addresses are refused, loopback and private ones unless
``TASKY_HTTP_ALLOW_PRIVATE`` is on; a refused address fails the task, naming it.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any

import marshmallow as ma

from tasky.config import Settings
from tasky.netguard import AddressRefused, guarded_opener
from tasky.worker import TaskFailed, Worker

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
TIMEOUT = 60.0
"""Socket timeout of the request, in seconds."""


class _Method(ma.fields.String):
    """An HTTP method, upper-cased first so that ``"post"`` is accepted too."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).upper()


class _Body(ma.fields.Field):
    default_error_messages = {"invalid": "Must be a string, an object or an array."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, (str, dict, list)):
            raise self.make_error("invalid")
        return value


class _StatusCodes(ma.fields.Field):
    default_error_messages = {
        "invalid": "Must be a status code (100-599) or a non-empty list of them."
    }

    def _deserialize(self, value, attr, data, **kwargs):
        codes = value if isinstance(value, list) else [value]
        if not codes or not all(_is_status(code) for code in codes):
            raise self.make_error("invalid")
        return value


def _http_url(url: str) -> None:
    """Checked with ``urlsplit`` rather than ``fields.Url``, whose stricter host rule
    refuses names such as ``my_service`` that resolve fine on Docker networks."""
    if not _is_http_url(url):
        raise ma.ValidationError("Not a valid http or https URL.")


def _is_http_url(url: str) -> bool:
    if any(char.isspace() or not char.isprintable() for char in url):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        # .port raises ValueError unless the port is a number from 0 to 65535
        return (
            parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
        )
    except ValueError:
        return False


def _is_status(code: Any) -> bool:
    return isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599


class Http(Worker):
    name = "http"
    description = (
        "Calls a URL and returns its status, headers and body; "
        "a status other than expect_status (default: any 2xx) fails the task."
    )
    usage = (
        "curl -X POST http://127.0.0.1:8888/tasky/v1/workers/http "
        '-d \'{"config": {"url": "https://example.com/api/ping"}, "cron": "*/5 * * * *"}\''
    )
    max_num_tasks = 8

    class Config(ma.Schema):
        url = ma.fields.String(
            required=True,
            validate=_http_url,
            metadata={
                "description": "The http or https URL to call.",
                "example": "https://example.com/api/ping",
            },
        )
        method = _Method(
            load_default="GET",
            validate=ma.validate.OneOf(METHODS),
            metadata={"description": "One of " + ", ".join(METHODS) + "."},
        )
        headers = ma.fields.Dict(
            keys=ma.fields.String(),
            values=ma.fields.String(),
            load_default=None,
            metadata={"description": "Request headers."},
        )
        body = _Body(
            load_default=None,
            metadata={
                "description": "Request body: a string is sent as is, an object or "
                "array as JSON (with Content-Type: application/json)."
            },
        )
        expect_status = _StatusCodes(
            load_default=None,
            metadata={
                "description": "Status code or list of codes that mean success (default: any 2xx)."
            },
        )

    def perform(self, config, ctx):
        request = _request(config)
        settings = self.settings or Settings()
        future: concurrent.futures.Future = concurrent.futures.Future()

        def call() -> None:
            try:
                future.set_result(
                    _exchange(request, settings.output_limit, settings.http_allow_private)
                )
            except BaseException as exc:  # handed over to perform, which re-raises it
                future.set_exception(exc)

        threading.Thread(target=call, name=f"http-{ctx.task_id}", daemon=True).start()
        while not future.done():
            ctx.check()
            concurrent.futures.wait([future], timeout=0.05)
        output = future.result()
        status = output["status_code"]
        expected = config["expect_status"]
        if expected is None:
            ok = 200 <= status < 300
        else:
            ok = status in (expected if isinstance(expected, list) else [expected])
        if not ok:
            raise TaskFailed(f"unexpected status {status}", output)
        return output


def _request(config) -> urllib.request.Request:
    body = config["body"]
    request = urllib.request.Request(
        config["url"], headers=config["headers"] or {}, method=config["method"]
    )
    if isinstance(body, str):
        request.data = body.encode()
    elif body is not None:
        request.data = json.dumps(body).encode()
        if not request.has_header("Content-type"):  # urllib stores names capitalize()d
            request.add_header("Content-Type", "application/json")
    return request


def _exchange(request: urllib.request.Request, limit: int, allow_private: bool) -> dict[str, Any]:
    """Send the request, following redirects to http(s) URLs only, each hop's address
    checked (``TASKY_HTTP_ALLOW_PRIVATE``); the answer as output. Reads one byte past
    ``limit`` (the output limit) so that the engine still sees, and flags, an output too
    large."""
    opener = guarded_opener(allow_private, follow_redirects=True)
    try:
        response = opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        response = error  # an answer all the same, with its status, headers and body
    except urllib.error.URLError as error:
        if not isinstance(error.reason, AddressRefused):
            raise
        hint = "" if error.reason.always else " (TASKY_HTTP_ALLOW_PRIVATE=1)"
        raise TaskFailed(f"{error.reason}{hint}") from None
    with response:
        raw = response.read(limit + 1)
        headers = response.headers
        return {
            "status_code": response.status,
            "headers": {name: ", ".join(headers.get_all(name)) for name in headers},
            "body": _decode(raw, headers),
        }


def _decode(raw: bytes, headers: Message) -> Any:
    """The body as text in its declared charset, or parsed if it is JSON."""
    try:
        text = raw.decode(headers.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = raw.decode("utf-8", errors="replace")
    content_type = headers.get_content_type()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text
