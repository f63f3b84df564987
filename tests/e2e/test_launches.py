"""Tasks run however the app is served: each launch a deployer might use, started from
another working directory (so without the project's gunicorn.conf.py), runs a task, starts a
future task at its time, and cancels a running sleeper within a second."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import ROOT
from tests.support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PY = sys.executable
BIND = "127.0.0.1:{port}"
GUNICORN = [PY, "-m", "gunicorn", "--chdir", str(ROOT)]
OWN_CONFIG = """\
import os

bind = ["127.0.0.1:" + os.environ["TEST_PORT"]]
workers = 2
threads = 2
"""

LAUNCHES = {
    "gunicorn --chdir": [*GUNICORN, "-b", BIND, "--threads", "4", "app:app"],
    "gunicorn -c own file": [*GUNICORN, "-c", "{config}", "app:app"],
    "GUNICORN_CMD_ARGS=-c own file": [*GUNICORN, "app:app"],
    "gunicorn -w 3 --threads 2": [*GUNICORN, "-b", BIND, "-w", "3", "--threads", "2", "app:app"],
    "gunicorn --preload -w 2": [*GUNICORN, "-b", BIND, "--preload", "-w", "2", "app:app"],
    "gunicorn sync worker": [*GUNICORN, "-b", BIND, "-k", "sync", "app:app"],
    "flask run": [PY, "-m", "flask", "--app", "app", "run", "--port", "{port}"],
    "waitress-serve": [PY, "-m", "waitress", "--listen", BIND, "app:app"],
    "tasky serve": [PY, "-m", "tasky", "serve", "-b", BIND, "-w", "2"],
}


def launch(server_factory, tmp_path, name):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = elsewhere / "deploy.py"
    config.write_text(OWN_CONFIG)
    env = {"TEST_PORT": "{port}"}
    argv = [part.replace("{config}", str(config)) for part in LAUNCHES[name]]
    if name.startswith("GUNICORN_CMD_ARGS"):
        env["GUNICORN_CMD_ARGS"] = f"-c {config}"
    return server_factory(argv=argv, cwd=elsewhere, env=env)


@pytest.mark.parametrize("name", list(LAUNCHES))
def test_tasks_run_however_the_app_is_served(server_factory, tmp_path, name):
    server = launch(server_factory, tmp_path, name)
    done = server.wait_finished(server.submit("echo", {"config": {"message": "hi"}}), timeout=10)
    assert done["status"] == "completed"

    execute_at = datetime.now(UTC) + timedelta(seconds=1.5)
    future = server.submit("journal", {"execute_at": execute_at.isoformat()})
    server.wait_finished(future, timeout=10)
    lateness = server.get(f"/tasky/v1/tasks/{future}/statistics").json()["lateness"]
    assert 0 <= lateness < 0.2

    sleeper = server.submit("sleeper", {"config": {"seconds": 60}})
    wait_for(lambda: server.status(sleeper) == "running", timeout=10)
    asked = time.monotonic()
    server.post(f"/tasky/v1/tasks/{sleeper}/cancel")
    wait_for(lambda: server.status(sleeper) == "canceled", timeout=2)
    assert time.monotonic() - asked < 1.0
