from __future__ import annotations

import os
import threading
import time

import marshmallow as ma
import psutil
import pytest

import tasky.worker
from tasky.config import Settings
from tasky.worker import Aborted, TaskFailed
from tests.support import wait_for
from workers.bash import Bash


@pytest.fixture
def worker():
    return Bash(Settings(enable_bash=True))


def run(worker, ctx, **config):
    return worker.perform(Bash.Config().load(config), ctx)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs. Zombies do not count: orphans whose
    init does not reap them (as in some containers) still answer ``killpg(pgid, 0)``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except ProcessLookupError:
            continue
    return False


def start_in_thread(worker, ctx, config):
    """Run perform in a thread; returns the thread and a dict that receives its outcome."""
    outcome = {}

    def target():
        try:
            outcome["output"] = worker.perform(Bash.Config().load(config), ctx)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def test_disabled_by_default():
    assert Bash().enabled is False
    assert Bash(Settings()).enabled is False
    assert Bash(Settings(enable_bash=True)).enabled is True


def test_refuses_to_run_when_disabled(ctx):
    with pytest.raises(PermissionError):
        run(Bash(Settings()), ctx, command="echo hi")


def test_schema():
    with pytest.raises(ma.ValidationError) as info:
        Bash.Config().load({"command": "", "env": {"A": 1}})
    assert set(info.value.messages) == {"command", "env"}
    assert Bash.Config().load({"command": "true"}) == {"command": "true", "env": None, "cwd": None}


@pytest.mark.parametrize(
    "config", [{"command": "true"}, {"command": "ls", "env": {"A": "1"}, "cwd": "/"}]
)
def test_config_survives_storage(config):
    """The engine stores ``dump(load(config))`` and loads that again to run the task."""
    schema = Bash.Config()
    loaded = schema.load(config)
    assert schema.load(schema.dump(loaded)) == loaded


@pytest.mark.timeout(30)
def test_success_output(worker, ctx):
    assert run(worker, ctx, command="echo hello") == {
        "exit_code": 0,
        "stdout": "hello\n",
        "stderr": "",
    }


@pytest.mark.timeout(30)
def test_env_is_merged_over_the_servers_and_cwd_is_used(worker, ctx, tmp_path, monkeypatch):
    monkeypatch.setenv("TASKY_TEST_INHERITED", "inherited")
    output = run(
        worker,
        ctx,
        command='echo "$TASKY_TEST_INHERITED $TASKY_TEST_OWN"; pwd',
        env={"TASKY_TEST_OWN": "own"},
        cwd=str(tmp_path),
    )
    assert output["stdout"] == f"inherited own\n{os.path.realpath(tmp_path)}\n"


@pytest.mark.timeout(30)
def test_non_zero_exit_fails_and_keeps_output(worker, ctx):
    with pytest.raises(TaskFailed) as info:
        run(worker, ctx, command="echo out; echo err >&2; exit 3")
    assert info.value.error == "exit code 3"
    assert info.value.output == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n"}


@pytest.mark.timeout(30)
def test_death_by_signal_is_named(worker, ctx):
    with pytest.raises(TaskFailed) as info:
        run(worker, ctx, command="kill -KILL $$")
    assert info.value.error == "killed by signal SIGKILL"
    assert info.value.output["exit_code"] == -9


@pytest.mark.timeout(30)
def test_output_limit_applies_per_stream(ctx):
    worker = Bash(Settings(enable_bash=True, output_limit=10))
    output = run(worker, ctx, command="printf '%0100d' 0; printf '%0100d' 0 >&2")
    assert output["stdout"] == "0" * 10 and output["stderr"] == "0" * 10


def abort_and_check_group(worker, ctx, abort, tmp_path, command):
    """Start ``command`` (which must write its pid to $PIDFILE first), cancel it, and
    return how long the cancel took; asserts that the whole process group is gone."""
    pidfile = tmp_path / "pid"
    thread, outcome = start_in_thread(
        worker, ctx, {"command": command, "env": {"PIDFILE": str(pidfile)}}
    )
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pgid = int(pidfile.read_text())  # bash leads its own process group
    wait_for(lambda: len(psutil.Process(pgid).children()) >= 2)
    started = time.monotonic()
    abort.set()
    thread.join(20)
    took = time.monotonic() - started
    assert isinstance(outcome.get("error"), Aborted)
    wait_for(lambda: not group_alive(pgid))
    return took


@pytest.mark.timeout(60)
def test_abort_kills_the_whole_process_group(worker, ctx, abort, tmp_path):
    command = 'echo $$ > "$PIDFILE"; sleep 30 & sleep 30 & wait'
    took = abort_and_check_group(worker, ctx, abort, tmp_path, command)
    assert took < tasky.worker.TERM_GRACE  # SIGTERM was enough


@pytest.mark.timeout(60)
def test_abort_kills_a_group_that_ignores_sigterm(worker, ctx, abort, tmp_path, monkeypatch):
    monkeypatch.setattr(tasky.worker, "TERM_GRACE", 0.5)
    command = 'trap "" TERM; echo $$ > "$PIDFILE"; sleep 30 & sleep 30 & wait'
    took = abort_and_check_group(worker, ctx, abort, tmp_path, command)
    assert took >= 0.5  # SIGTERM was ignored: only SIGKILL ended it


STUBBORN_CHILD = (
    "python3 -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    ' open(__import__("os").environ["PIDFILE"] + ".child", "w").write("ready");'
    " time.sleep(1000)'"
)
"""A background child that ignores SIGTERM; it writes ``$PIDFILE.child`` once it does."""


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "command",
    [
        f'echo $$ > "$PIDFILE"; {STUBBORN_CHILD} & sleep 1000',
        f'echo $$ > "$PIDFILE"; {STUBBORN_CHILD} & exit 0',
    ],
    ids=["bash-still-running", "bash-already-exited"],
)
def test_abort_kills_a_stubborn_child_even_when_bash_is_gone(
    worker, ctx, abort, tmp_path, monkeypatch, command
):
    """SIGTERM ends bash (or bash has already exited); its child ignores SIGTERM and still
    holds the task's output pipes: SIGKILL reaches it after the grace."""
    monkeypatch.setattr(tasky.worker, "TERM_GRACE", 0.5)
    pidfile = tmp_path / "pid"
    thread, outcome = start_in_thread(
        worker, ctx, {"command": command, "env": {"PIDFILE": str(pidfile)}}
    )
    wait_for((tmp_path / "pid.child").exists)
    pgid = int(pidfile.read_text())
    abort.set()
    thread.join(20)
    assert isinstance(outcome.get("error"), Aborted)
    wait_for(lambda: not group_alive(pgid), timeout=5)
