"""``sleeper``: sleeps, and wakes at once when canceled. Handy for testing schedules and cancels."""

from __future__ import annotations

import marshmallow as ma

from tasky.worker import Worker

MAX_SECONDS = 86400


class Sleeper(Worker):
    name = "sleeper"
    description = "Sleeps for a number of seconds; cancellable at any moment."
    usage = (
        "curl -X POST http://127.0.0.1:8888/tasky/v1/workers/sleeper "
        '-d \'{"config": {"seconds": 5}}\''
    )
    max_num_tasks = 16

    class Config(ma.Schema):
        seconds = ma.fields.Float(
            load_default=60.0,
            validate=ma.validate.Range(min=0, max=MAX_SECONDS),
            metadata={"description": f"How long to sleep, 0 to {MAX_SECONDS} seconds."},
        )

    def perform(self, config, ctx):
        ctx.sleep(config["seconds"])
        return {"slept": config["seconds"]}
