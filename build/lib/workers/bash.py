"""``bash``: runs a shell command. Off unless ``TASKY_ENABLE_BASH=1``: it runs anything the
server's user may run."""

from __future__ import annotations

import os
import signal

import marshmallow as ma

from tasky.config import Settings
from tasky.worker import TaskFailed, Worker


class Bash(Worker):
    name = "bash"
    description = (
        "Runs a bash command; a non-zero exit fails the task and keeps its output. "
        "Disabled unless TASKY_ENABLE_BASH=1."
    )
    usage = (
        "curl -X POST http://127.0.0.1:8888/tasky/v1/workers/bash "
        '-d \'{"config": {"command": "echo hello"}}\''
    )
    max_num_tasks = 4

    class Config(ma.Schema):
        command = ma.fields.String(
            required=True,
            validate=ma.validate.Length(min=1),
            metadata={
                "description": "Command line, run as bash -c COMMAND.",
                "example": "echo hello",
            },
        )
        env = ma.fields.Dict(
            keys=ma.fields.String(),
            values=ma.fields.String(),
            load_default=None,
            metadata={"description": "Environment variables set over the server's own."},
        )
        cwd = ma.fields.String(
            load_default=None,
            metadata={"description": "Working directory (default: the server's)."},
        )

    @property
    def enabled(self):
        return self._settings.enable_bash

    def perform(self, config, ctx):
        # Checked again here: a task stored while bash was enabled must not run once it is not.
        if not self.enabled:
            raise PermissionError("the bash worker is disabled on this server (TASKY_ENABLE_BASH)")
        env = {**os.environ, **config["env"]} if config["env"] else None
        exit_code, stdout, stderr = ctx.run_process(
            ["bash", "-c", config["command"]],
            env=env,
            cwd=config["cwd"],
            output_limit=self._settings.output_limit,
        )
        output = {"exit_code": exit_code, "stdout": stdout, "stderr": stderr}
        if exit_code != 0:
            raise TaskFailed(_describe_exit(exit_code), output)
        return output

    @property
    def _settings(self) -> Settings:
        return self.settings or Settings()


def _describe_exit(code: int) -> str:
    """A negative code is Popen's way of saying the process died of a signal."""
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
