"""Receivers on 127.0.0.1 for the outbound tests: an HTTP server that records what it
gets and answers as told, and a raw socket server for peers that hang or trickle."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``url`` is the server's base URL; ``answers`` maps a path to (status, headers, body),
    anything else answers 200 ``ok``; ``received`` lists every request, in order."""

    url: str
    server_names: list[str | None] = field(default_factory=list)
    """The TLS server names (SNI) the clients sent, for a TLS receiver."""
    answers: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [request.path for request in self.received]


@contextmanager
def receiver(tls_cert: Path | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1; with ``tls_cert`` (see :func:`make_cert`), an https one
    whose URL names ``localhost``."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.received.append(Received(self.command, self.path, dict(self.headers), body))
            status, headers, answer = state.answers.get(self.path, (200, {}, b"ok"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_HEAD = handle_any

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls_cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_cert)
        context.sni_callback = lambda sock, name, ctx: state.server_names.append(name)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    with serving(httpd) as port:
        state.url = f"https://localhost:{port}" if tls_cert else f"http://127.0.0.1:{port}"
        yield state


def make_cert(folder: Path) -> Path:
    """A self-signed certificate for ``localhost`` only, with its key, in one PEM file."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    pem = folder / "localhost.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(pem),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    pem.write_text(pem.read_text() + (folder / "cert.pem").read_text())
    return pem


@contextmanager
def serving(httpd: ThreadingHTTPServer) -> Iterator[int]:
    """Serve ``httpd`` on a thread; its port."""
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@contextmanager
def raw_server(behave: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that runs ``behave(connection, stop)`` for each
    connection; its base URL. ``stop`` is set when the test ends: a behaviour that hangs
    waits on it."""
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    threads = []

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client gave up: what these are for
            behave(conn, stop)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        for thread in threads:
            thread.join(5)
        listener.close()


def read_request_head(conn: socket.socket) -> bytes:
    """Read up to the end of a request's headers."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def hang(conn: socket.socket, stop: threading.Event) -> None:
    """Read the request, never answer."""
    read_request_head(conn)
    stop.wait(30)


def trickle_head(conn: socket.socket, stop: threading.Event) -> None:
    """Answer a status line, then one header byte every 50 ms, never ending the headers."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(0.05):
        conn.sendall(b"X")


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """Answer 200 with a long body, then send it one byte every 50 ms."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.05):
        conn.sendall(b"x")
