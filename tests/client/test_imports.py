"""The client is HTTP only: importing it loads nothing of the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import tasky.client
print("\\n".join(sorted(sys.modules)))
"""


def test_the_client_imports_nothing_of_the_server():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert {m for m in loaded if m.startswith("tasky")} == {
        "tasky",
        "tasky.client",
        "tasky.client.backup",
        "tasky.client.chains",
        "tasky.client.errors",
        "tasky.client.records",
    }
    assert not loaded & {"flask", "marshmallow", "sqlite3", "psycopg", "gunicorn"}
