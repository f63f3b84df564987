"""Tasky installed as a package (a wheel built from the checkout), run without the checkout:
its schema files, its built-in workers (through the ``tasky.workers`` entry points) and its
``tasky`` command come with it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
    """A folder where the wheel of the checkout is installed (its dependencies are those of
    this environment)."""
    wheels = tmp_path_factory.mktemp("wheels")
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("tasky-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    return str(target)


def test_the_installed_package_serves_and_runs_tasks(installed, server_factory, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = server_factory(
        argv=[sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "tasky:create_app()"],
        cwd=elsewhere,
        env={"PYTHONPATH": installed, "TASKY_PLUGINS": ""},
    )
    workers = server.get("/tasky/v1/health").json()["workers"]
    assert workers == ["bash", "copyfile", "echo", "http", "ifconfig", "sleeper"]
    task_id = server.submit("echo", {"config": {"message": "installed"}})
    assert server.wait_finished(task_id)["status"] == "completed"


def test_the_installed_tasky_command_runs_from_the_installed_package(installed, tmp_path):
    env = {"PYTHONPATH": installed, "PATH": "/usr/bin:/bin"}
    where = subprocess.run(
        [sys.executable, "-c", "import tasky, workers; print(tasky.__file__, workers.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(path.startswith(installed) for path in where)
    version = subprocess.run(
        [f"{installed}/bin/tasky", "version"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == __import__("tasky").__version__
