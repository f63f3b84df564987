"""A lean HTTP/1.1 keep-alive client over a raw socket, and a closed-loop load generator.

The load generator shares two cores with the server it measures, so each request costs the
client as little as Python allows: the request bytes are built once, and a response is read
by its ``Content-Length`` (chunked bodies are decoded too, for completeness).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"


class HttpError(RuntimeError):
    pass


def build_request(
    method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    if body is not None:
        head += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Conn:
    """One keep-alive connection. Reconnects (once per request) when the server has closed
    an idle connection."""

    def __init__(self, port: int, timeout: float = 120.0):
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> None:
        self.close()
        self.sock = socket.create_connection((HOST, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def send(self, raw: bytes) -> tuple[int, bytes]:
        """Send one prebuilt request; return (status, body)."""
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                self.sock.sendall(raw)
                return self._read_response()
            except (ConnectionResetError, BrokenPipeError, _ClosedEarly):
                # The server closed an idle keep-alive connection before reading anything.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise _ClosedEarly()
        return chunk

    def _read_response(self) -> tuple[int, bytes]:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            buf += self._recv()
        head = buf[:end].decode("latin-1")
        buf = buf[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if chunked:
            body, buf = self._read_chunked(buf)
        elif length is not None:
            while len(buf) < length:
                buf += self._recv()
            body, buf = buf[:length], buf[length:]
        else:  # read to close
            parts = [buf]
            try:
                while True:
                    parts.append(self._recv())
            except _ClosedEarly:
                pass
            body, buf, close = b"".join(parts), b"", True
        self.buf = buf
        if close:
            self.close()
        return status, body

    def _read_chunked(self, buf: bytes) -> tuple[bytes, bytes]:
        body = []
        while True:
            while b"\r\n" not in buf:
                buf += self._recv()
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += self._recv()
            body.append(buf[:size])
            buf = buf[size + 2 :]
            if size == 0:
                # Trailers (none expected) end with an empty line, already consumed above.
                return b"".join(body), buf

    # -- conveniences for the non-hot paths -------------------------------------------------

    def request(
        self, method: str, path: str, payload: Any = None, expect: int | tuple[int, ...] = 200
    ) -> Any:
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        status, data = self.send(build_request(method, path, body))
        expected = (expect,) if isinstance(expect, int) else expect
        if status not in expected:
            raise HttpError(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data) if data else None

    def get(self, path: str, expect: int | tuple[int, ...] = 200) -> Any:
        return self.request("GET", path, expect=expect)

    def post(self, path: str, payload: Any = None, expect: int | tuple[int, ...] = 201) -> Any:
        return self.request("POST", path, payload, expect=expect)


class _ClosedEarly(ConnectionError):
    pass


@dataclass
class LoadResult:
    rps: float
    ok: int
    errors: int
    seconds: float
    statuses: dict[int, int]


def closed_loop(
    port: int, raw: bytes, *, expect: int, concurrency: int, seconds: float, warmup: float
) -> LoadResult:
    """``concurrency`` connections, each sending ``raw`` again as soon as the previous answer
    arrived, for ``warmup + seconds``; only answers completed inside the measured window
    count."""
    start_barrier = threading.Barrier(concurrency + 1)
    window = [0.0, 0.0]
    counts = [0] * concurrency
    errors = [0] * concurrency
    statuses: list[dict[int, int]] = [{} for _ in range(concurrency)]
    failures: list[BaseException] = []

    def loop(index: int) -> None:
        conn = Conn(port)
        try:
            conn._connect()
            start_barrier.wait()
            begin, end = window
            ok = bad = 0
            seen = statuses[index]
            while True:
                status, _ = conn.send(raw)
                now = time.perf_counter()
                if now >= end:
                    break
                if now >= begin:
                    if status == expect:
                        ok += 1
                    else:
                        bad += 1
                        seen[status] = seen.get(status, 0) + 1
            counts[index], errors[index] = ok, bad
        except BaseException as exc:  # reported below, never swallowed
            failures.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                start_barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window[0], window[1] = now + warmup, now + warmup + seconds
    with contextlib.suppress(threading.BrokenBarrierError):
        start_barrier.wait()
    for thread in threads:
        thread.join(warmup + seconds + 120)
    if failures:
        raise HttpError(f"load generator failed: {failures[0]!r}") from failures[0]
    merged: dict[int, int] = {}
    for seen in statuses:
        for status, n in seen.items():
            merged[status] = merged.get(status, 0) + n
    ok = sum(counts)
    return LoadResult(ok / seconds, ok, sum(errors), seconds, merged)
