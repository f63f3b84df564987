"""A worker for end-to-end tests: appends one line per execution to a journal file, so a
test can count how many times each task really ran, and in which process; ``until`` holds
an execution until a file exists, so a test decides when it may end."""

from __future__ import annotations

import os
from pathlib import Path

import marshmallow as ma

from tasky.worker import Worker


class Journal(Worker):
    name = "journal"
    description = "Records each execution in $TASKY_TEST_JOURNAL."
    max_num_tasks = 8

    class Config(ma.Schema):
        sleep = ma.fields.Float(load_default=0)
        fail = ma.fields.Boolean(load_default=False)
        value = ma.fields.Raw(load_default=None, allow_none=True)
        until = ma.fields.String(load_default=None, allow_none=True)

    def perform(self, config, ctx):
        with open(os.environ["TASKY_TEST_JOURNAL"], "a") as journal:
            journal.write(f"{ctx.task_id} {os.getpid()} {ctx.attempt}\n")
        if config["sleep"]:
            ctx.sleep(config["sleep"])
        while config["until"] and not Path(config["until"]).exists():
            ctx.sleep(0.02)
            ctx.check()
        if config["fail"]:
            raise RuntimeError("asked to fail")
        if config["value"] is not None:
            return {"pid": os.getpid(), "value": config["value"]}
        return {"pid": os.getpid()}
