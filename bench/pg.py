"""Figure 5, PostgreSQL: end-to-end throughput of two Tasky servers sharing one database,
against a naive claim loop measured in the same run on the same database server.

Runs only when ``TASKY_BENCH_PG_URL`` (or ``--pg-url``) names a server, e.g.
``postgresql://user@127.0.0.1:5432/postgres`` (the role needs CREATEDB: each part works in a
scratch database of its own, dropped at the end), or with ``--pg-local``, which starts a
throwaway server with PostgreSQL's default (durable) settings from the binaries in
``$TASKY_BENCH_PG_BIN`` or ``/usr/lib/postgresql/15/bin``, as the ``postgres`` user when run
as root.

The naive reference is what a runner without any batching does: each of 2 processes × 8
threads (the two servers' no-op worker slots) loops over its own connection on

    BEGIN; UPDATE ... WHERE id = (SELECT id ... ORDER BY execute_at, id LIMIT 1
                                   FOR UPDATE SKIP LOCKED) RETURNING id; COMMIT
    BEGIN; UPDATE ... SET status = 'completed' ...; COMMIT

until the table holds nothing due; claims/s = rows / (last finish - start).
"""

from __future__ import annotations

import multiprocessing
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import figures

NAIVE_PROCESSES = 2
NAIVE_THREADS = 8

NAIVE_SCHEMA = """
DROP TABLE IF EXISTS naive_tasks;
CREATE TABLE naive_tasks (
    id          bigserial PRIMARY KEY,
    status      text NOT NULL DEFAULT 'queued',
    config      jsonb NOT NULL DEFAULT '{}',
    execute_at  double precision NOT NULL,
    started_at  double precision,
    finished_at double precision
);
CREATE INDEX naive_tasks_due ON naive_tasks (execute_at, id) WHERE status = 'queued';
"""

CLAIM_ONE = """
UPDATE naive_tasks SET status = 'running', started_at = %(now)s
WHERE id = (SELECT id FROM naive_tasks WHERE status = 'queued' AND execute_at <= %(now)s
            ORDER BY execute_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""

FINISH_ONE = "UPDATE naive_tasks SET status = 'completed', finished_at = %s WHERE id = %s"


class LocalPostgres:
    """A throwaway PostgreSQL server on a free port of 127.0.0.1 (``initdb`` in a temporary
    directory), with the server's default settings: fsync on, as a user would run it."""

    def __init__(self, bin_dir: str | None = None):
        self.bin_dir = Path(
            bin_dir or os.environ.get("TASKY_BENCH_PG_BIN") or "/usr/lib/postgresql/15/bin"
        )
        self.root: Path | None = None
        self.as_user: list[str] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_user, *argv], capture_output=True, text=True)
        if done.returncode:
            log = self.root / "server.log"
            raise RuntimeError(
                f"{' '.join(argv)} failed: {done.stderr.strip()} "
                f"{log.read_text()[-1000:] if log.exists() else ''}"
            )

    def __enter__(self) -> str:
        if not (self.bin_dir / "initdb").is_file():
            raise RuntimeError(f"no PostgreSQL binaries in {self.bin_dir} (set TASKY_BENCH_PG_BIN)")
        self.root = Path(tempfile.mkdtemp(prefix="tasky-bench-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            os.chown(self.root, pwd.getpwnam("postgres").pw_uid, -1)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        try:
            data = self.root / "data"
            self._run(
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            )
            self._run(
                str(self.bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                f" -c max_connections=200",
            )
        except BaseException:
            self.__exit__()
            raise
        return self.url

    def __exit__(self, *exc) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self.as_user,
                    str(self.bin_dir / "pg_ctl"),
                    "stop",
                    "-m",
                    "fast",
                    "-w",
                    "-D",
                    str(self.root / "data"),
                ],
                capture_output=True,
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        raise RuntimeError(
            "the PostgreSQL figures need psycopg (pip install 'psycopg[binary]')"
        ) from exc
    return psycopg


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


class ScratchDatabase:
    """``CREATE DATABASE`` on entry, ``DROP DATABASE`` on exit; yields its URL."""

    def __init__(self, url: str):
        self.url = url
        self.name = f"tasky_bench_{os.getpid()}_{int(time.time())}"

    def __enter__(self) -> str:
        psycopg = _psycopg()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return with_database(self.url, self.name)

    def __exit__(self, *exc) -> None:
        psycopg = _psycopg()
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _naive_process(url: str, threads: int, start: float, out) -> None:
    """One process of the naive loop: ``threads`` connections claiming one row at a time."""
    import threading

    psycopg = _psycopg()
    results: list[tuple[int, float]] = []
    errors: list[str] = []

    def loop() -> None:
        done, last = 0, 0.0
        try:
            with psycopg.connect(url) as conn:
                conn.execute("SELECT 1")
                conn.commit()
                time.sleep(max(0.0, start - time.time()))
                while True:
                    now = time.time()
                    row = conn.execute(CLAIM_ONE, {"now": now}).fetchone()
                    conn.commit()
                    if row is None:
                        break
                    # the no-op task would run here
                    conn.execute(FINISH_ONE, (time.time(), row[0]))
                    conn.commit()
                    done, last = done + 1, time.time()
        except Exception as exc:  # reported to the parent
            errors.append(f"{type(exc).__name__}: {exc}")
        results.append((done, last))

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((sum(d for d, _ in results), max((t for _, t in results), default=0.0), errors))


def naive_claims(
    url: str, n: int, processes: int = NAIVE_PROCESSES, threads: int = NAIVE_THREADS
) -> dict:
    psycopg = _psycopg()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(NAIVE_SCHEMA)
        now = time.time()
        with conn.cursor() as cur, cur.copy("COPY naive_tasks (execute_at) FROM STDIN") as copy:
            for _ in range(n):
                copy.write_row((now,))
        conn.execute("VACUUM ANALYZE naive_tasks")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 2.0  # every connection open before the clock starts
    procs = [
        ctx.Process(target=_naive_process, args=(url, threads, start, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    parts = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(30)
    errors = [e for _, _, errs in parts for e in errs]
    if errors:
        raise RuntimeError(f"naive claim loop: {errors[0]}")
    done = sum(d for d, _, _ in parts)
    if done != n:
        raise AssertionError(f"naive claim loop finished {done} of {n} rows")
    last = max(t for _, t, _ in parts)
    return {
        "claims_per_s": n / (last - start),
        "seconds": last - start,
        "n": n,
        "processes": processes,
        "threads": threads,
    }


def _reason(exc: Exception) -> str:
    """The line of a server's log (or of the error) that says what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:  # the first error is the cause; later ones follow from it
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) and " " not in head:
            return line
    return f"{type(exc).__name__}: {lines[-1] if lines else exc!r}"


def fig_pg(
    root: Path, work: Path, url: str, *, e2e_n: int, naive_n: int, rounds: int, cap: float
) -> dict:
    with ScratchDatabase(url) as naive_url:
        naive = [naive_claims(naive_url, naive_n) for _ in range(rounds)]
    naive_rate = statistics.median(r["claims_per_s"] for r in naive)
    result = {"naive_claims_per_s": naive_rate, "naive": naive, "e2e_tasks_per_s": None}
    try:
        with ScratchDatabase(url) as tasky_url:
            e2e = figures.fig_e2e(
                root,
                work / "pg",
                n=e2e_n,
                rounds=rounds,
                cap=cap,
                servers=2,
                database_url=tasky_url,
            )
    except Exception as exc:  # the reference stands on its own; say why Tasky has no figure
        result["e2e_error"] = _reason(exc)
        return result
    result.update(
        e2e_tasks_per_s=e2e["tasks_per_s"], e2e=e2e, ratio=e2e["tasks_per_s"] / naive_rate
    )
    return result
