"""The one channel between HTTP processes and their runner process.

Messages travel over a Unix ``SOCK_SEQPACKET`` socket: the kernel keeps each message whole, so
a message that does not fit is refused whole and never leaves half a frame behind. Each
message is one pickle of a tuple (both ends are the same program):

- ``("create", [NewTask, ...])``: the runner stores the tasks with the group commit of
  ``Store.create_tasks``, wakes its scheduler, and answers ``("ok", [None | existing id])``
  (None for a created task, else the id of the stored task its idempotency key matched), or
  ``("error", exception)``. The 201 of a submit is sent only once that answer has come.
- ``("wake", worker, due_at)`` and ``("abort", task_id)``: news, never answered and never
  waited for; one that does not fit in the socket's buffer is dropped (the scheduler's next
  poll finds that work, as it finds the work of other processes).
- ``("ping",)``: answered ``("pong",)``; ``/health`` asks it.

Each request thread has a connection of its own (opened on first use), so a submit costs one
blocking call. The address is in Linux's abstract namespace (no file to clean up) and gone
with the process that bound it, so a dead runner refuses connections at once. Any local
process could connect there: the runner answers only processes of its own user, checked by
the kernel's credentials of the caller (``SO_PEERCRED``): such a process could already do
anything the runner does.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any, Protocol

from tasky.models import NewTask, Task

logger = logging.getLogger(__name__)

PEER_CREDENTIALS = struct.Struct("3i")
"""``struct ucred``: pid, uid, gid."""
ANSWER_TIMEOUT = 60.0
"""Seconds a request thread waits for the runner's answer (which may itself wait up to 30 s
for the database) before it stores the task itself: a runner that hangs must not take every
request thread with it."""
PING_TIMEOUT = 1.0
RECEIVE_LIMIT = 1 << 18
"""Larger than any message a socket's send buffer lets through (``net.core.wmem_max``)."""
ANSWER_LIMIT = 1 << 16


class RunnerGone(Exception):
    """The runner process did not answer: ``sent`` tells whether it may have the tasks."""

    def __init__(self, sent: bool):
        super().__init__("the runner process did not answer")
        self.sent = sent


class RunnerSide(Protocol):
    """What the channel asks of the runner process."""

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]: ...

    def wake(self, worker: str | None = None, due_at: float | None = None) -> None: ...

    def abort(self, task_id: str) -> None: ...


def new_address() -> str:
    """A fresh name for the channel, chosen by the HTTP process before it starts its runner:
    the socket's address is that name in the abstract namespace."""
    return f"tasky-runner-{os.getpid()}-{os.urandom(6).hex()}"


# -- the runner's side ------------------------------------------------------------------------


def serve(address: str, runner: RunnerSide) -> socket.socket:
    """Bind ``address`` and answer its connections on threads of their own, until the
    returned listening socket is closed or the process exits."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind("\0" + address)
    listener.listen(64)
    threading.Thread(
        target=_accept, args=(listener, runner), name="tasky-channel", daemon=True
    ).start()
    return listener


def _accept(listener: socket.socket, runner: RunnerSide) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:  # closed
            return
        pid, uid, _gid = PEER_CREDENTIALS.unpack(
            conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS.size)
        )
        if uid != os.geteuid():
            logger.warning("refused a channel connection from process %s of user %s", pid, uid)
            conn.close()
            continue
        threading.Thread(
            target=_answer, args=(conn, runner), name="tasky-channel-conn", daemon=True
        ).start()


def _answer(conn: socket.socket, runner: RunnerSide) -> None:
    buffer = bytearray(RECEIVE_LIMIT)
    with conn:
        while True:
            try:
                size, _, flags, _ = conn.recvmsg_into([buffer])
            except OSError:
                return
            if size == 0:
                return
            if flags & socket.MSG_TRUNC:
                logger.error("a channel message over %d bytes was dropped", RECEIVE_LIMIT)
                continue
            kind, *args = pickle.loads(memoryview(buffer)[:size])
            answer = _handle(runner, kind, args)
            if answer is not None:
                try:
                    conn.sendall(_packed(answer))
                except OSError:  # the sender gave up waiting (see ANSWER_TIMEOUT)
                    return


def _handle(runner: RunnerSide, kind: str, args: list[Any]) -> tuple | None:
    if kind == "create":
        try:
            stored = runner.create_tasks(args[0])
        except Exception as exc:
            return ("error", _picklable(exc))
        return ("ok", [None if created else task.id for task, created in stored])
    if kind == "wake":
        runner.wake(*args)
    elif kind == "abort":
        runner.abort(*args)
    elif kind == "ping":
        return ("pong",)
    return None


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.dumps(exc)
    except Exception:
        logger.exception("the store's error does not travel; the sender gets its text")
        return RuntimeError(str(exc))
    return exc


# -- the HTTP process's side -------------------------------------------------------------------


class ChannelClient:
    """Connections to the runner at ``address``: one per request thread."""

    def __init__(self, address: str, timeout: float = ANSWER_TIMEOUT):
        self.address = address
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[socket.socket] = []
        """Every connection, closed by ``close``: request threads live as long as their
        process, and a socket dropped with its thread would be closed by the collector."""
        self._opened_lock = threading.Lock()

    def create_tasks(
        self, tasks: list[NewTask], get_task: Callable[[str], Task | None]
    ) -> list[tuple[Task, bool]]:
        """As ``Store.create_tasks``, through the runner; ``get_task`` reads a stored task
        whose idempotency key matched. Raises ``RunnerGone`` when the runner does not answer
        (in ``timeout`` seconds), and whatever the store raised in the runner."""
        kind, value = self._ask(("create", tasks))
        if kind == "error":
            raise value
        results: list[tuple[Task, bool]] = []
        for new, existing_id in zip(tasks, value, strict=True):
            existing = None if existing_id is None else get_task(existing_id)
            results.append((new.as_task(), True) if existing is None else (existing, False))
        return results

    def ping(self) -> bool:
        """Whether the runner answers within ``PING_TIMEOUT``."""
        try:
            conn = self._connect(PING_TIMEOUT)
        except OSError:
            return False
        with conn:
            try:
                conn.sendall(_packed(("ping",)))
                return bool(conn.recv(ANSWER_LIMIT))
            except OSError:
                return False

    def tell(self, *message: Any) -> None:
        """Send news (``wake``, ``abort``) without waiting: dropped when the runner is behind
        or gone."""
        try:
            self._connection().send(_packed(message), socket.MSG_DONTWAIT)
        except BlockingIOError:
            pass  # the runner is behind: its next poll finds the work
        except OSError:
            self._drop_connection()

    def close(self) -> None:
        """Close every thread's connection."""
        with self._opened_lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()

    def _ask(self, message: tuple) -> Any:
        sent = False
        try:
            conn = self._connection()
            conn.sendall(_packed(message))
            sent = True
            answer = conn.recv(ANSWER_LIMIT)
        except OSError:  # refused, reset, too large for the socket, or timed out
            answer = b""
        if not answer:
            self._drop_connection()
            raise RunnerGone(sent)
        return pickle.loads(answer)

    def _connect(self, timeout: float) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.settimeout(timeout)
        try:
            conn.connect("\0" + self.address)
        except OSError:
            conn.close()
            raise
        return conn

    def _connection(self) -> socket.socket:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect(self.timeout)
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def _drop_connection(self) -> None:
        """Close this thread's connection: its next message connects anew."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with self._opened_lock:
                self._opened.remove(conn)
            conn.close()
            self._local.conn = None


def _packed(message: tuple) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
