"""Real gunicorn servers on 127.0.0.1, started and killed by the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
import requests

from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server (by default a gunicorn master and its workers started in the checkout, as
    ``make run`` does), in a process group of their own. ``argv`` launches it another way:
    ``{port}`` in it (and in ``env``'s values) is replaced by the server's port; ``cwd`` is where
    it starts."""

    def __init__(
        self,
        data: Path,
        processes: int = 1,
        env: dict[str, str] | None = None,
        argv: list[str] | None = None,
        cwd: Path = ROOT,
    ):
        self.data = data
        self.processes = processes
        self.cwd = cwd
        self.port = free_port()
        self.argv = (
            [part.replace("{port}", str(self.port)) for part in argv]
            if argv
            else [
                sys.executable,
                "-m",
                "gunicorn",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(processes),
                "app:app",
            ]
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.journal = data / "journal.txt"
        self.env = {
            **os.environ,
            "TASKY_DATABASE_URL": f"sqlite:///{data}/tasks.db",
            "TASKY_FILES_ROOT": str(data / "files"),
            "TASKY_PLUGINS": "tests.e2e.journal_plugin",
            "TASKY_TEST_JOURNAL": str(self.journal),
            "PYTHONPATH": str(ROOT),
            **{
                name: value.replace("{port}", str(self.port)) for name, value in (env or {}).items()
            },
        }
        self.proc: subprocess.Popen | None = None
        self.log = data / f"server-{self.port}.log"

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        # A deadline, not a wait: a loaded machine starting several servers at once needs it.
        wait_for(self._ready, timeout=60, interval=0.05)
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited:\n{self.log.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/tasky/v1/health", timeout=1).status_code == 200
        except requests.RequestException:  # not listening yet, or still booting workers
            return False

    def kill9(self) -> None:
        """Kill the master and every worker at once, as a crash would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()

    # -- HTTP -------------------------------------------------------------------------------

    def post(self, path: str, body: dict | None = None, **kw) -> requests.Response:
        return requests.post(
            self.url + path, json=body if body is not None else {}, timeout=10, **kw
        )

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kw)

    def submit(self, worker: str, body: dict | None = None) -> str:
        resp = self.post(f"/tasky/v1/workers/{worker}", body)
        assert resp.status_code == 201, resp.text
        return resp.json()["task_id"]

    def submit_batch(self, worker: str, count: int, task: dict | None = None) -> list[str]:
        """Submit ``count`` tasks in one request, each of body ``task`` (default settings)."""
        resp = self.post(f"/tasky/v1/workers/{worker}/batch", {"tasks": [task or {}] * count})
        assert resp.status_code == 201, resp.text
        return resp.json()["task_ids"]

    def status(self, task_id: str) -> str:
        return self.get(f"/tasky/v1/tasks/{task_id}/status").json()["status"]

    def wait_finished(self, task_id: str, timeout: float = 20) -> dict:
        return wait_for(
            lambda: (
                (t := self.get(f"/tasky/v1/tasks/{task_id}").json())["status"]
                in ("completed", "failed", "canceled")
                and t
            ),
            timeout=timeout,
        )

    def runs(self, of: Iterable[str] | None = None) -> Counter:
        """How many times each task id (of those in ``of``, where given: a shared server ran
        other tests' tasks too) was executed, from the journal."""
        if not self.journal.exists():
            return Counter()
        ran = Counter(line.split()[0] for line in self.journal.read_text().splitlines())
        if of is None:
            return ran
        wanted = set(of)
        return Counter({task_id: n for task_id, n in ran.items() if task_id in wanted})


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(
        processes: int = 1,
        env: dict[str, str] | None = None,
        data: Path | None = None,
        argv: list[str] | None = None,
        cwd: Path = ROOT,
    ):
        server = Server(data or tmp_path, processes, env, argv, cwd)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    """Servers kept for a whole module (each in a data folder of its own): starting one costs
    seconds, so tests that only look at their own tasks share it. A test that needs an empty
    store, settings of its own or to stop its server takes ``server_factory``."""
    servers = []

    def make(processes: int = 1, env: dict[str, str] | None = None) -> Server:
        server = Server(tmp_path_factory.mktemp("server"), processes, env)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def database(postgres_server):
    """An empty PostgreSQL database, dropped afterwards: the servers' processes, starting
    together, migrate it."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
