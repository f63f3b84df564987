"""The directory where every process of one service keeps its metrics.

prometheus_client's multiprocess mode: each process (HTTP processes and their runner
processes) writes its counters to memory-mapped files of its own in one directory, and a
scrape answered by any of them sums the files of all. The library picks that mode when it is
imported, from ``PROMETHEUS_MULTIPROC_DIR``: the directory is settled before, in the first
process of the service, and handed to its children through the environment.

- ``TASKY_METRICS_DIR`` names the directory: created if missing, and wiped at start unless a
  live process still writes there (another service of this host sharing it).
- Without it, the first process makes a fresh temporary directory, removed when that
  process exits.

The first process is the one that finds ``PROMETHEUS_MULTIPROC_DIR`` not yet equal to
``TASKY_METRICS_DIR``: gunicorn's master (``gunicorn.conf.py`` and ``tasky serve`` import this
module), else the process that loads the app. Its children find both set, equal, and join.

This module imports only the standard library: gunicorn's master reads it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

DIR_ENV = "TASKY_METRICS_DIR"
LIBRARY_ENV = "PROMETHEUS_MULTIPROC_DIR"
PROCESS_FILE = re.compile(r"_(\d+)\.db$")
"""The library names each process's files ``<kind>_<pid>.db``."""


def prepare(environ: MutableMapping[str, str] = os.environ) -> Path:
    """The service's metrics directory, made ready; ``environ`` hands it to the children."""
    given = environ.get(DIR_ENV)
    if given and environ.get(LIBRARY_ENV) == given:
        return Path(given)  # settled by an ancestor
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        if not live_pids(path):
            wipe(path)
    else:
        path = Path(tempfile.mkdtemp(prefix="tasky-metrics-"))
        atexit.register(_remove, path, os.getpid())
    environ[DIR_ENV] = environ[LIBRARY_ENV] = str(path)
    return path


def live_pids(path: Path) -> set[int]:
    """The processes still alive among those that wrote files in ``path``."""
    pids = {int(m.group(1)) for f in path.iterdir() if (m := PROCESS_FILE.search(f.name))}
    return {pid for pid in pids if _alive(pid)}


def wipe(path: Path) -> None:
    """Remove every file in ``path``: the counters of a previous run of the service."""
    for entry in path.iterdir():
        if entry.is_file():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path, creator: int) -> None:
    """At exit of the process that made the temporary directory (not of its forked
    children, which run the same exit handlers)."""
    if os.getpid() == creator:
        shutil.rmtree(path, ignore_errors=True)


def mark_dead(pid: int) -> None:
    """Drop the live gauges of a process that exited (its counters stay, summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, os.environ[LIBRARY_ENV])


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook, in the master, when a worker process has exited."""
    mark_dead(worker.pid)
