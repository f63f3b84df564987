"""gunicorn's own answers in SPEC's error shape.

gunicorn answers some requests itself, before any app code runs: a request line or headers
over its limits (414, 431), a request it cannot parse (400). It writes those answers as HTML
pages through one function, ``gunicorn.util.write_error``; SPEC allows only its JSON error
shape. ``answer_errors_in_json`` puts a writer of that shape in its place.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

from tasky.api.errors import error_body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature and behavior, with a JSON body."""
    body = json.dumps(error_body(status_int, mesg or reason)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def answer_errors_in_json() -> None:
    util.write_error = write_json_error
