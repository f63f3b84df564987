"""The metrics directory: settled by the first process, joined by its children, wiped at
the start of a service, never while a process of it still writes there."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tasky.metrics.directory import DIR_ENV, LIBRARY_ENV, prepare

ROOT = Path(__file__).resolve().parents[2]


def test_first_process_makes_a_fresh_directory_and_hands_it_down():
    environ: dict[str, str] = {}
    path = prepare(environ)
    try:
        assert path.is_dir() and path.name.startswith("tasky-metrics-")
        assert environ == {DIR_ENV: str(path), LIBRARY_ENV: str(path)}
        (path / "counter_1.db").write_bytes(b"x")
        child = dict(environ)
        assert prepare(child) == path and child == environ
        assert (path / "counter_1.db").exists()  # a child joins, it does not wipe
    finally:
        for entry in path.iterdir():
            entry.unlink()
        path.rmdir()


def test_a_named_directory_is_created_and_wiped_at_start(tmp_path):
    path = tmp_path / "metrics" / "deep"
    environ = {DIR_ENV: str(path), LIBRARY_ENV: "/somewhere/inherited"}
    assert prepare(environ) == path and path.is_dir()
    assert environ[LIBRARY_ENV] == str(path)
    dead = _dead_pid()
    (path / f"counter_{dead}.db").write_bytes(b"old run")
    (path / "store-gauges-abc.json").write_text("{}")
    assert prepare({DIR_ENV: str(path)}) == path
    assert list(path.iterdir()) == []


def test_a_directory_a_live_process_writes_to_is_not_wiped(tmp_path):
    mine = tmp_path / f"counter_{os.getpid()}.db"
    mine.write_bytes(b"live")
    prepare({DIR_ENV: str(tmp_path)})
    assert mine.exists()


def test_the_temporary_directory_goes_with_its_maker_not_with_a_forked_child(tmp_path):
    script = textwrap.dedent(
        """
        import os, sys
        import tasky.metrics
        path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        print(path, flush=True)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # runs the exit handlers it inherited
        os.waitpid(pid, 0)
        print(os.path.isdir(path), flush=True)
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in (DIR_ENV, LIBRARY_ENV)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    path, after_child = out.stdout.split()
    assert after_child == "True"
    assert not Path(path).exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
