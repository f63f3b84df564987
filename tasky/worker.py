"""The plugin API: what a worker is, and the only face of the engine a worker ever sees.

A worker knows nothing of HTTP or storage. It declares static facts as class attributes
(readable without an instance, for ``GET /workers/``), validates its config with a
marshmallow schema, and does its work in ``perform``. Cancellation is cooperative: a long
``perform`` calls ``ctx.check()``, ``ctx.sleep()`` or ``ctx.run_process()``, which raise
:class:`Aborted` once the task is canceled or timed out.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import marshmallow as ma
import psutil

if TYPE_CHECKING:
    from tasky.config import Settings

TERM_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL when a process started by ``run_process`` is aborted."""


class Aborted(Exception):
    """The task was canceled or timed out; ``perform`` should stop."""


class TaskFailed(Exception):
    """Fail the attempt with this error while keeping an output (a command's exit code and
    streams, say)."""

    def __init__(self, error: str, output: Any = None):
        super().__init__(error)
        self.error = error
        self.output = output


HOOKS = ("on_success", "on_fail", "on_abort")


class Worker:
    """Base class of every worker plugin. Subclass it and override ``perform``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    usage: ClassVar[str] = ""
    max_num_tasks: ClassVar[int] = 4

    class Config(ma.Schema):
        """The worker's config; validated at submit time. Unknown fields are rejected."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings

    @functools.cached_property
    def config_schema(self) -> ma.Schema:
        """One instance of ``Config``, reused for every task (loading keeps no state)."""
        return self.Config()

    def load_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` loaded by ``Config``. The base ``Config`` loads nothing from nothing, so
        an empty config of a worker that keeps it skips the schema: at a few thousand tasks a
        second that load is a twentieth of a runner's time."""
        if not config and self.Config is Worker.Config:
            return {}
        return self.config_schema.load(config)

    @property
    def enabled(self) -> bool:
        """A disabled worker is listed but refuses new tasks (403)."""
        return True

    def validate(self, config: dict[str, Any]) -> dict[str, Any]:
        """Checks beyond the schema that need the server's settings; raise
        ``marshmallow.ValidationError`` to reject. Returns the config to store."""
        return config

    def perform(self, config: dict[str, Any], ctx: RunContext) -> Any:
        """Do the work; return a JSON-serialisable output. An exception fails the attempt."""
        raise NotImplementedError

    def on_success(self, task, output: Any) -> None:
        """Called after the task is stored as completed."""

    def on_fail(self, task, error: str) -> None:
        """Called after the task is stored as failed (its last attempt)."""

    def on_abort(self, task) -> None:
        """Called after the task is stored as canceled."""

    @classmethod
    def has_hooks(cls) -> bool:
        """Whether it overrides a hook: the runner hands a stored task to its hooks thread
        only then, one wake-up fewer for each batch of tasks of workers with none."""
        return any(getattr(cls, hook) is not getattr(Worker, hook) for hook in HOOKS)


@dataclass(frozen=True)
class RunContext:
    """What a running task may ask of the engine."""

    task_id: str
    attempt: int
    abort_event: threading.Event = field(repr=False)
    logger: logging.LoggerAdapter = field(repr=False)
    inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """The results ``{status, output, error}`` of the tasks this one depended on, by step
    name in its chain, else by task id."""

    def should_abort(self) -> bool:
        return self.abort_event.is_set()

    def check(self) -> None:
        """Raise :class:`Aborted` if the task was canceled or timed out."""
        if self.abort_event.is_set():
            raise Aborted()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking at once (with :class:`Aborted`) when the task is aborted."""
        if self.abort_event.wait(max(0.0, seconds)):
            raise Aborted()

    def run_process(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        output_limit: int | None = None,
    ) -> tuple[int, str, str]:
        """Run a command in its own process group; return (exit code, stdout, stderr).

        On abort the whole group gets SIGTERM, then SIGKILL after ``TERM_GRACE`` seconds,
        and :class:`Aborted` is raised. Each stream keeps at most ``output_limit`` bytes.
        """
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        streams = {"stdout": bytearray(), "stderr": bytearray()}
        readers = [
            threading.Thread(
                target=_drain, args=(getattr(proc, name), buf, output_limit), daemon=True
            )
            for name, buf in streams.items()
        ]
        for reader in readers:
            reader.start()
        # The command is done when it has exited and its streams are closed: a background
        # child may still hold them (and is stopped with the group on abort).
        while proc.poll() is None or any(reader.is_alive() for reader in readers):
            if self.abort_event.wait(0.05):
                _terminate_group(proc)
                for reader in readers:
                    reader.join(1.0)
                raise Aborted()
        return (
            proc.returncode,
            streams["stdout"].decode(errors="replace"),
            streams["stderr"].decode(errors="replace"),
        )


def _drain(stream, buf: bytearray, limit: int | None) -> None:
    """Read a pipe to its end, keeping at most ``limit`` bytes so the child never blocks."""
    with stream:
        for chunk in iter(lambda: stream.read1(65536), b""):
            if limit is None or len(buf) < limit:
                buf.extend(chunk[: None if limit is None else limit - len(buf)])


def _terminate_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the command's whole process group; SIGKILL to what is left of it after
    ``TERM_GRACE`` seconds, even when the command itself has already exited (a background
    child that ignores SIGTERM outlives it)."""
    group = proc.pid
    if _signal_group(group, signal.SIGTERM):
        deadline = time.monotonic() + TERM_GRACE
        while time.monotonic() < deadline:
            proc.poll()  # reap the command
            if not _group_alive(group):
                break
            time.sleep(0.05)
        else:
            _signal_group(group, signal.SIGKILL)
    proc.wait()


def _group_alive(group: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: orphans whose init
    does not reap them (as in some containers) still answer ``killpg(group, 0)``."""
    if not _signal_group(group, 0):
        return False
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == group and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to the process group; False when it has no process left."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True


def describe_parameters(schema: ma.Schema) -> dict[str, dict[str, Any]]:
    """Each config field as ``{type, required, default, help}``, for ``GET /workers/``, with
    ``min``/``max`` from a ``Range`` validator and ``choices`` from a ``OneOf`` where the
    field has them (the dashboard builds its submit forms from this)."""
    described = {}
    for name, fld in schema.fields.items():
        default = fld.load_default
        described[name] = {
            "type": _type_name(fld),
            "required": fld.required,
            "default": None if default is ma.missing or callable(default) else default,
            "help": fld.metadata.get("description", ""),
            **_bounds(fld),
        }
    return described


def _bounds(fld: ma.fields.Field) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for validator in fld.validators:
        if isinstance(validator, ma.validate.Range):
            if validator.min is not None:
                bounds["min"] = validator.min
            if validator.max is not None:
                bounds["max"] = validator.max
        elif isinstance(validator, ma.validate.OneOf):
            bounds["choices"] = list(validator.choices)
    return bounds


def example_config(schema: ma.Schema) -> dict[str, Any]:
    """An example config as the Go-Tasky README shows it: defaults, examples or blanks."""
    blanks = {"string": "", "integer": 0, "number": 0, "boolean": False, "object": {}, "array": []}
    example = {}
    for name, fld in schema.fields.items():
        if "example" in fld.metadata:
            example[name] = fld.metadata["example"]
        elif fld.load_default is not ma.missing and not callable(fld.load_default):
            example[name] = fld.load_default
        else:
            example[name] = blanks.get(_type_name(fld), "")
    return example


def _type_name(fld: ma.fields.Field) -> str:
    """The JSON type of a field; a custom field names its own with ``metadata["type"]``."""
    if "type" in fld.metadata:
        return fld.metadata["type"]
    for cls, name in (
        (ma.fields.Boolean, "boolean"),
        (ma.fields.Integer, "integer"),
        (ma.fields.Number, "number"),
        (ma.fields.String, "string"),
        (ma.fields.Dict, "object"),
        (ma.fields.Nested, "object"),
        (ma.fields.List, "array"),
    ):
        if isinstance(fld, cls):
            return name
    return "string"
