"""How Tasky is served: gunicorn's settings for it, its logging, and its errors in JSON.

``gunicorn.conf.py`` (read by ``gunicorn app:app`` in the checkout) and ``tasky serve`` take
their settings from here, so both start the same server. Neither is needed for tasks to
run: ``create_app`` starts the runner however the app is served.

gunicorn answers some requests itself, before any app code runs: a request line or headers
over its limits (414, 431), a request it cannot parse (400). It writes those answers as HTML
pages through one function, ``gunicorn.util.write_error``; SPEC allows only its JSON error
shape. ``answer_errors_in_json`` puts a writer of that shape in its place.

This module imports only the standard library at its top: gunicorn's master process reads
it through ``gunicorn.conf.py`` and need not load the app's libraries.
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import sys
from typing import Any

DEFAULT_BIND = "127.0.0.1:8888"
DEFAULT_THREADS = 8
GUNICORN_SETTINGS: dict[str, Any] = {
    "bind": [DEFAULT_BIND],
    "worker_class": "gthread",
    "threads": DEFAULT_THREADS,
    "graceful_timeout": 10,
    "keepalive": 75,
    "control_socket_disable": True,
}
"""Loopback only; one process of 8 threads (its runner beside it). ``keepalive``: an idle
connection stays open 75 s (nginx's default), longer than clients that poll every few
seconds wait between requests: gunicorn's own 2 s closes it just as such a client reuses it."""


def post_worker_init(worker: Any) -> None:
    """gunicorn's hook, in each worker once the app is loaded. The objects of the loaded app
    live as long as the process: frozen, the garbage collector stops walking them on every
    full collection (a tenth of the time of a large batch submit)."""
    gc.freeze()


def configure_logging() -> None:
    """Tasky's log lines go where gunicorn's error log goes when gunicorn serves the app;
    elsewhere (another server, ``tasky runner``), to standard error, from INFO up. A process
    whose logging is already set up keeps it."""
    root = logging.getLogger()
    if root.handlers:
        return
    gunicorn_log = logging.getLogger("gunicorn.error")
    if gunicorn_log.handlers:
        root.handlers = list(gunicorn_log.handlers)
        root.setLevel(gunicorn_log.level)
    else:
        logging.basicConfig(
            level=logging.INFO,
            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S %z",
        )


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature and behavior, with a JSON body."""
    from gunicorn import util

    from tasky.api.errors import error_body

    body = json.dumps(error_body(status_int, mesg or reason)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def answer_errors_in_json() -> None:
    """When gunicorn serves this process, its own error pages become JSON."""
    if "gunicorn.util" in sys.modules:
        setattr(sys.modules["gunicorn.util"], "write_error", write_json_error)  # noqa: B010
