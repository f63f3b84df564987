"""New tasks, handed from an HTTP process to its runner process, which stores them.

A request thread that stores a task itself makes several blocking calls into SQLite (and
takes turns on the file lock), each one handing the GIL to another thread of the busy HTTP
process. So each request thread sends its new task over a Unix socket connection of its own
(opened on first use) and waits for the answer: one blocking call. The runner process, with
a GIL of its own, stores it with the group commit of ``Store.create_tasks``, wakes its
scheduler, and answers with what was stored. The 201 is still sent only once the task is
committed. (``RunnerProcess.create_tasks`` says which submits take this way.)

Messages are pickles, length-prefixed: both ends are the same program, forked from one
process. The socket's address is in Linux's abstract namespace (no file to clean up), where
any local process could connect: the runner answers only its own HTTP process, checked by
the kernel's credentials of the connecting process (``SO_PEERCRED``).
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from tasky.models import NewTask, Task

logger = logging.getLogger(__name__)

HEADER = struct.Struct("!I")
PEER_CREDENTIALS = struct.Struct("3i")
"""``struct ucred``: pid, uid, gid."""
ANSWER_TIMEOUT = 60.0
"""Seconds a request thread waits for the runner's answer (which may itself wait up to 30 s
for the database) before it stores the task itself: a runner that hangs must not take every
request thread with it."""


class RunnerGone(Exception):
    """The runner process did not answer: ``sent`` tells whether it may have the tasks."""

    def __init__(self, sent: bool):
        super().__init__("the runner process is gone")
        self.sent = sent


def listen() -> socket.socket:
    """A listening socket at a fresh abstract address (before the fork: the child serves
    it, the parent connects to its address)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(f"\0tasky-submits-{os.getpid()}-{os.urandom(6).hex()}")
    listener.listen(64)
    return listener


def serve(
    listener: socket.socket,
    create_tasks: Callable[[list[NewTask]], list[tuple[Task, bool]]],
    sender_pid: int,
) -> None:
    """The runner's side: a thread per connection of process ``sender_pid``, until this
    process exits. Other processes are refused."""

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed
                return
            pid = _peer_pid(conn)
            if pid != sender_pid:
                logger.warning("refused a submit connection from process %s", pid)
                conn.close()
                continue
            threading.Thread(
                target=_answer, args=(conn, create_tasks), name="tasky-submits", daemon=True
            ).start()

    threading.Thread(target=accept, name="tasky-submits-accept", daemon=True).start()


def _peer_pid(conn: socket.socket) -> int:
    pid, _uid, _gid = PEER_CREDENTIALS.unpack(
        conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS.size)
    )
    return pid


def _answer(conn: socket.socket, create_tasks) -> None:
    with conn, conn.makefile("rb") as incoming:
        while (tasks := _read(incoming)) is not None:
            try:
                stored = create_tasks(tasks)
                # A created task is what was sent: only an existing one travels back.
                answer = ("ok", [None if created else task for task, created in stored])
            except Exception as exc:
                answer = ("error", exc)
            try:
                message = _framed(answer)
            except Exception:  # an error that does not pickle
                logger.exception("cannot send the answer to a submit")
                message = _framed(("error", RuntimeError("the runner could not answer")))
            try:
                conn.sendall(message)
            except OSError:  # the sender gave up waiting (see ANSWER_TIMEOUT)
                return


class SubmitClient:
    """The HTTP process's side: one connection per request thread."""

    def __init__(self, address: str, timeout: float = ANSWER_TIMEOUT):
        self.address = address
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[_Connection] = []
        """Every connection, closed by ``close``: request threads live as long as their
        process, and a socket dropped with its thread would be closed by the collector."""

    def create_tasks(self, tasks: list[NewTask]) -> list[tuple[Task, bool]]:
        """As ``Store.create_tasks``; raises ``RunnerGone`` when the runner does not
        answer (in ``timeout`` seconds), and whatever the store raised in the runner."""
        sent = False
        try:
            conn = self._connection()
            conn.sock.sendall(_framed(tasks))
            sent = True
            answer = _read(conn.incoming)
        except OSError:
            answer = None
        if answer is None:
            self._drop_connection()
            raise RunnerGone(sent)
        kind, value = answer
        if kind == "error":
            raise value
        return [
            (new.as_task(), True) if existing is None else (existing, False)
            for new, existing in zip(tasks, value)
        ]

    def close(self) -> None:
        """Close every thread's connection."""
        for conn in self._opened:
            conn.close()
        self._opened.clear()

    def _connection(self) -> _Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _Connection(self.address, self.timeout)
            self._opened.append(conn)
        return conn

    def _drop_connection(self) -> None:
        """Close this thread's connection: its next submit connects anew."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._opened.remove(conn)
            conn.close()
            self._local.conn = None


class _Connection:
    """A connected socket and the buffered reader of its answers."""

    def __init__(self, address: str, timeout: float):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.incoming = self.sock.makefile("rb")

    def close(self) -> None:
        self.incoming.close()
        self.sock.close()


def _framed(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def _read(incoming) -> Any:
    """The next message, or None at the end of the stream."""
    header = incoming.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    data = incoming.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)
