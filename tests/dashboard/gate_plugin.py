"""A worker for the dashboard's browser tests: it runs until the file its config names
exists, so a test decides when a step finishes (and can cancel it while it runs)."""

from __future__ import annotations

from pathlib import Path

import marshmallow as ma

from tasky.worker import Worker


class Gate(Worker):
    name = "gate"
    description = "Runs until the file at `path` exists."
    max_num_tasks = 4

    class Config(ma.Schema):
        path = ma.fields.String(required=True)

    def perform(self, config, ctx):
        gate = Path(config["path"])
        while not gate.exists():
            ctx.sleep(0.02)
            ctx.check()
        return {"opened": str(gate)}
