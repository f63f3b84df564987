"""The reference of the submit figure: a bare Flask POST endpoint that parses a JSON body and
answers 201 with a small JSON body, nothing else (no validation, no store).

It is served by the very same command as Tasky (``python -m gunicorn -b ... bench.ref_app:app``
from the repository root), so ``gunicorn.conf.py`` applies unchanged: same worker class, same
threads, same keep-alive. That file's hooks start and stop ``extensions["tasky"].runner``;
the stub below gives them something that does nothing.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from flask import Flask, jsonify, request

app = Flask(__name__)
app.extensions["tasky"] = SimpleNamespace(
    runner=SimpleNamespace(start=lambda in_child: None, stop=lambda: None)
)

_count = 0


@app.post("/ref/tasks")
def submit():
    global _count
    body = request.get_json(force=True, silent=False)
    _count += 1
    task_id = f"{_count:032x}"
    return (
        jsonify(
            {
                "task_id": task_id,
                "worker": "echo",
                "status": "queued",
                "config": body.get("config"),
                "created_at": time.time(),
            }
        ),
        201,
        {"Location": f"/ref/tasks/{task_id}"},
    )


@app.get("/ref/health")
def health():
    return jsonify({"status": "ok"})
