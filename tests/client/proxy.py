"""A small HTTP proxy on 127.0.0.1 that forwards each request to a server and, for the first
``drops`` requests, closes the connection once the server has answered, without passing the
answer on: a lost answer, as a network cut after sending would cause."""

from __future__ import annotations

import http.client
import socket
import threading
from urllib.parse import urlsplit


class DroppingProxy:
    def __init__(self, upstream: str, drops: int) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.drops = drops
        self.requests: list[bytes] = []  # the bodies received, in order
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        request_line = reader.readline().decode()
        if not request_line:
            return
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        while (line := reader.readline().decode()) not in ("\r\n", ""):
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        body = reader.read(int(headers.get("Content-Length", 0)))
        self.requests.append(body)
        upstream = http.client.HTTPConnection(*self.upstream, timeout=10)
        upstream.request(method, path, body, {"Content-Type": "application/json"})
        answer = upstream.getresponse()
        payload = answer.read()
        upstream.close()
        if self.drops > 0:
            self.drops -= 1
            return  # the server has acted; its answer is lost
        head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "content-length", "transfer-encoding"):
                head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode() + payload)
