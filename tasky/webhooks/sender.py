"""One delivery attempt: POST a body to a URL and say how the receiver answered.

The attempt never follows a redirect (a 3xx is a failed attempt, with its status), never
raises for what the network or the receiver does (``Answer.error`` says it), and ends by
one deadline: connecting, the TLS handshake, sending and reading the answer all share
``timeout``, so a receiver that accepts the connection and then trickles its answer a byte
at a time cannot hold a delivery slot longer. Only the name resolution is left to the
system resolver's own timeout. The address is checked by :mod:`tasky.netguard`.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import io
import socket
import ssl
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasky.netguard import (
    AddressRefused,
    GuardedHTTPConnection,
    GuardedHTTPSConnection,
    time_left,
)

BODY_HEAD = 1024
"""How many bytes of the answer's body are read and kept; the rest is never read."""
MAX_RETRY_AFTER = 24 * 3600.0
"""The longest ``Retry-After`` honoured, in seconds; a longer one is cut to a day."""
_CHUNK = 64 * 1024
"""Bytes of the body sent per write, each write bounded by what is left of the deadline."""


@dataclass(frozen=True)
class Answer:
    """What one attempt came to.

    ``status`` is the receiver's HTTP status, None when none came (``error`` says why);
    ``latency`` the seconds from the attempt's start to its end (the answer's first KiB
    read, or the failure); ``body_head`` the first KiB of the answer's body, decoded as
    UTF-8 with undecodable bytes replaced; ``retry_after`` the seconds a 429 or 503 asked
    to wait (at most ``MAX_RETRY_AFTER``; None without a usable ``Retry-After``);
    ``error`` why no status came (timeout, refused address, connection or TLS failure,
    a malformed answer), None when the receiver answered; ``delivered`` is a 2xx status.
    """

    status: int | None
    latency: float
    body_head: str
    retry_after: float | None
    error: str | None
    delivered: bool


class _BoundedReader(io.RawIOBase):
    """The socket's reader, each read bounded by what is left of the deadline."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(time_left(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _BoundedSocket:
    """What ``HTTPResponse`` asks of a socket: its ``makefile("rb")``, here bounded."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_BoundedReader(self._sock, self._deadline))


class _BoundedResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, deadline: float, **kwargs: Any):
        super().__init__(_BoundedSocket(sock, deadline), *args, **kwargs)  # type: ignore[arg-type]


def _connection(
    parts: urllib.parse.SplitResult, deadline: float, allow_private: bool
) -> http.client.HTTPConnection:
    kinds = {"http": (GuardedHTTPConnection, 80), "https": (GuardedHTTPSConnection, 443)}
    if parts.scheme not in kinds or not parts.hostname:
        raise ValueError("not an http or https URL")
    kind, default_port = kinds[parts.scheme]
    # the port always given: http.client would read "fe80::1" as host "fe80:" and port 1
    port = parts.port or default_port
    conn = kind(parts.hostname, port, allow_private=allow_private, deadline=deadline)
    conn.response_class = functools.partial(_BoundedResponse, deadline=deadline)  # type: ignore[assignment]
    return conn


def send(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout: float, allow_private: bool
) -> Answer:
    """POST ``body`` with ``headers`` to ``url`` within ``timeout`` seconds, the address
    checked with ``allow_private`` (see :func:`tasky.netguard.check_address`)."""
    started = time.monotonic()
    deadline = started + timeout
    status: int | None = None
    head = b""
    retry_after = None
    error = None
    try:
        parts = urllib.parse.urlsplit(url)
        conn = _connection(parts, deadline, allow_private)
        try:
            response = _post(conn, parts, body, headers, deadline)
            status = response.status
            if status in (429, 503):
                retry_after = parse_retry_after(response.getheader("Retry-After"))
            head = _read_head(response)
        finally:
            conn.close()
    except AddressRefused as exc:
        error = f"refused: {exc}"
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except socket.gaierror as exc:
        error = f"cannot resolve {parts.hostname}: {exc.strerror}"
    except ssl.SSLError as exc:
        error = f"TLS failed: {exc.reason or exc}"
    except OSError as exc:
        error = f"connection failed: {exc.strerror or exc}"
    except http.client.HTTPException as exc:
        error = f"no valid answer: {exc or type(exc).__name__}"
    except ValueError as exc:
        error = f"cannot send: {exc}"
    return Answer(
        status=status,
        latency=time.monotonic() - started,
        body_head=head.decode("utf-8", errors="replace"),
        retry_after=retry_after,
        error=error,
        delivered=status is not None and 200 <= status < 300,
    )


def _post(
    conn: http.client.HTTPConnection,
    parts: urllib.parse.SplitResult,
    body: bytes,
    headers: Mapping[str, str],
    deadline: float,
) -> http.client.HTTPResponse:
    """Send the request, the body in pieces each bounded by the deadline; the answer's
    status and headers."""
    conn.connect()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn.putrequest("POST", target, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    assert conn.sock is not None
    conn.sock.settimeout(time_left(deadline))
    conn.endheaders()
    for start in range(0, len(body), _CHUNK):
        conn.sock.settimeout(time_left(deadline))
        conn.send(body[start : start + _CHUNK])
    return conn.getresponse()


def _read_head(response: http.client.HTTPResponse) -> bytes:
    """Up to ``BODY_HEAD`` bytes of the body, as many as came before the deadline: the
    status is the answer, its body only informs."""
    head = b""
    try:
        while len(head) < BODY_HEAD:
            chunk = response.read1(BODY_HEAD - len(head))
            if not chunk:
                break
            head += chunk
    except (OSError, http.client.HTTPException):
        pass
    return head


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` value asks to wait: a number of seconds or an
    HTTP-date (a date past counts as 0), at most ``MAX_RETRY_AFTER``; None when absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, as RFC 9110 dates are
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return min(seconds, MAX_RETRY_AFTER)
