"""Real gunicorn servers on loopback, started the way a user starts Tasky.

``python -m gunicorn -b 127.0.0.1:<free port> app:app`` from the root of the tree under test,
so its ``gunicorn.conf.py`` applies (one process unless it says otherwise). The
environment is the caller's minus every ``TASKY_*``, ``WEB_CONCURRENCY`` and
``GUNICORN_CMD_ARGS``, so a figure runs on the default configuration unless it says
otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.client import Conn

BENCH_PARENT = Path(__file__).resolve().parents[1]
"""The directory holding the ``bench`` package, put on the server's PYTHONPATH."""

SCRUBBED_PREFIXES = ("TASKY_",)
SCRUBBED = ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "PYTHONPATH")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None, root: Path | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(SCRUBBED_PREFIXES) and k not in SCRUBBED
    }
    paths = [str(root)] if root is not None else []
    if str(BENCH_PARENT) not in paths:
        paths.append(str(BENCH_PARENT))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra or {})
    return env


def tasky_env(
    data: Path, database_url: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The ``TASKY_*`` settings of a Tasky process of the benchmark (a server or a runner):
    the store (a fresh SQLite file in ``data`` unless ``database_url``), the no-op worker
    recording its starts in ``data``; creates ``data``."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "files").mkdir(exist_ok=True)
    return {
        "TASKY_DATABASE_URL": database_url or f"sqlite:///{data}/tasks.db",
        "TASKY_FILES_ROOT": str(data / "files"),
        "TASKY_PLUGINS": "bench.noop_worker",
        "TASKY_BENCH_DIR": str(data),
        "TASKY_MIN_INTERVAL": "0.01",  # the tick figure's schedule fires every 50 ms
        **(extra or {}),
    }


def spawn(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``python <args>`` in a process group of its own, its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, and after 30 s SIGKILL to its whole process group."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class Server:
    """One gunicorn master and its workers, in a process group of their own."""

    def __init__(
        self,
        root: Path,
        data: Path,
        *,
        app: str = "app:app",
        ready_path: str = "/tasky/v1/health",
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ):
        self.root = root
        self.data = data
        self.app = app
        self.ready_path = ready_path
        self.port = free_port()
        self.args = args or []
        self.env = clean_env(env, root)
        self.log = data / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    @classmethod
    def tasky(
        cls,
        root: Path,
        data: Path,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        args: list[str] | None = None,
    ) -> Server:
        """Tasky on a fresh SQLite file in ``data`` (or on ``database_url``), with the
        benchmark's no-op worker."""
        return cls(root, data, env=tasky_env(data, database_url, env), args=args)

    @classmethod
    def reference(cls, root: Path, data: Path) -> Server:
        """The bare Flask app of ``bench/ref_app.py``, same command, same gunicorn.conf.py."""
        data.mkdir(parents=True, exist_ok=True)
        return cls(root, data, app="bench.ref_app:app", ready_path="/ref/health")

    def start(self, timeout: float = 60.0) -> Server:
        self.proc = spawn(
            ["-m", "gunicorn", "-b", f"127.0.0.1:{self.port}", *self.args, self.app],
            self.root,
            self.env,
            self.log,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = Conn(self.port, timeout=2)
                status, _ = conn.send(f"GET {self.ready_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                conn.close()
                if status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server not ready within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def conn(self) -> Conn:
        return Conn(self.port)

    def processes(self) -> list[psutil.Process]:
        master = psutil.Process(self.proc.pid)
        return [master, *master.children(recursive=True)]

    def rss_mb(self) -> float:
        """Resident memory of the master and all its children, in MiB."""
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total / (1024 * 1024)

    def worker_pids(self) -> list[int]:
        return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
