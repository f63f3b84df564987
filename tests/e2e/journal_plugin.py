"""A worker for end-to-end tests: appends one line per execution to a journal file, so a
test can count how many times each task really ran, and in which process."""

from __future__ import annotations

import os

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

    def perform(self, config, ctx):
        with open(os.environ["TASKY_TEST_JOURNAL"], "a") as journal:
            journal.write(f"{ctx.task_id} {os.getpid()} {ctx.attempt}\n")
        if config["sleep"]:
            ctx.sleep(config["sleep"])
        if config["fail"]:
            raise RuntimeError("asked to fail")
        if config["value"] is not None:
            return {"pid": os.getpid(), "value": config["value"]}
        return {"pid": os.getpid()}
