"""``greeter``: an example third-party Tasky worker, installable on its own.

Tasky finds it through the ``tasky.workers`` entry point declared in ``pyproject.toml``,
or, without installing, when this module is named in ``TASKY_PLUGINS``.
"""

from __future__ import annotations

import logging

import marshmallow as ma

from tasky.worker import Worker

log = logging.getLogger(__name__)


class Greeter(Worker):
    name = "greeter"  # route segment, unique
    description = "Greets someone."
    usage = 'POST /tasky/v1/workers/greeter {"config": {"who": "Ada"}}'
    max_num_tasks = 4

    class Config(ma.Schema):  # validated at submit time
        who = ma.fields.String(
            required=True,
            metadata={"description": "Whom to greet.", "example": "Ada"},
        )

    def perform(self, config, ctx):  # ctx.task_id, ctx.should_abort(), ctx.sleep(s), ctx.logger
        ctx.logger.info("task %s: greeting %s", ctx.task_id, config["who"])
        return {"greeting": f"hello {config['who']}"}  # JSON-serialisable output

    # The hooks run after the task's new state is stored; one that raises is only logged.
    def on_success(self, task, output):
        log.info("greeter task %s: success: %s", task.id, output)

    def on_fail(self, task, error):
        log.info("greeter task %s: failed: %s", task.id, error)

    def on_abort(self, task):
        log.info("greeter task %s: aborted", task.id)
