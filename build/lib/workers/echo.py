"""``echo``: returns its message. The smallest worker, with every hook, for trying Tasky out."""

from __future__ import annotations

import logging

import marshmallow as ma

from tasky.worker import Worker

log = logging.getLogger(__name__)


class Echo(Worker):
    name = "echo"
    description = "Returns its message as output; its hooks log success, failed and aborted."
    usage = (
        "curl -X POST http://127.0.0.1:8888/tasky/v1/workers/echo "
        '-d \'{"config": {"message": "hello"}}\''
    )
    max_num_tasks = 8

    class Config(ma.Schema):
        message = ma.fields.String(
            load_default="",
            metadata={"description": "Text to return as output.", "example": "hello"},
        )

    def perform(self, config, ctx):
        return {"message": config["message"]}

    def on_success(self, task, output):
        log.info("echo task %s: success", task.id)

    def on_fail(self, task, error):
        log.info("echo task %s: failed: %s", task.id, error)

    def on_abort(self, task):
        log.info("echo task %s: aborted", task.id)
