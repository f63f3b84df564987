"""Figure 5, PostgreSQL: end-to-end throughput of Tasky on one database, against a naive claim
loop measured in the same run on the same database server. Tasky runs it twice over:

- two default servers (each a gunicorn process and its runner process), batches posted to
  the first;
- one API-only server (``TASKY_RUNNER=off``) and 1, 2, then 3 headless runners (``python -m
  tasky runner``) behind it, each count on a database of its own: how throughput grows with
  the runners added.

Runs only when ``TASKY_BENCH_PG_URL`` (or ``--pg-url``) names a server, e.g.
``postgresql://user@127.0.0.1:5432/postgres`` (the role needs CREATEDB: each part works in a
scratch database of its own, dropped at the end), or with ``--pg-local``, which starts a
throwaway server (``tests.pg_server.PostgresServer``, durable) from the binaries in
``$TASKY_BENCH_PG_BIN``, ``$TASKY_TEST_PG_BIN`` or ``/usr/lib/postgresql/15/bin``.

The naive reference is what a runner without any batching does: each of 2 processes × 8
threads (the two servers' no-op worker slots) loops over its own connection on

    BEGIN; UPDATE ... WHERE id = (SELECT id ... ORDER BY execute_at, id LIMIT 1
                                   FOR UPDATE SKIP LOCKED) RETURNING id; COMMIT
    BEGIN; UPDATE ... SET status = 'completed' ...; COMMIT

until the table holds nothing due; claims/s = rows / (last finish - start).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import figures
from bench.client import Conn
from bench.server import Server, clean_env, spawn, tasky_env
from bench.server import stop as stop_process

NAIVE_PROCESSES = 2
NAIVE_THREADS = 8
RUNNER_COUNTS = (1, 2, 3)
"""Headless runners behind one API-only server, one measurement each."""
KEYS = (
    "pg_two_servers_ratio",
    *(f"pg_runners_{count}_tasks_per_s" for count in RUNNER_COUNTS),
)
"""The keys this figure adds to ``latest.json`` beside ``pg_e2e_tasks_per_s`` and
``pg_naive_claims_per_s``."""

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


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    """A throwaway PostgreSQL server (the tests' ``PostgresServer``) with PostgreSQL's
    default, durable settings (fsync on, as a user would run it); yields its URL."""
    from tests.pg_server import PostgresServer

    server = PostgresServer(os.environ.get("TASKY_BENCH_PG_BIN"), durable=True).start()
    try:
        yield server.url()
    finally:
        server.stop()


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
    try:
        with ScratchDatabase(url) as tasky_url:
            result["runners"] = fig_runners(
                root, work / "pg-runners", tasky_url, n=e2e_n, rounds=rounds, cap=cap
            )
    except Exception as exc:  # the figures before stand on their own
        result["runners_error"] = _reason(exc)
    return result


def results(pg: dict) -> dict:
    """This figure's keys of ``latest.json`` (None where it did not run)."""
    runners = pg.get("runners", {})
    out = {"pg_two_servers_ratio": pg.get("ratio")}
    for count in RUNNER_COUNTS:
        out[f"pg_runners_{count}_tasks_per_s"] = runners.get(count, {}).get("tasks_per_s")
    return out


def notes(pg: dict) -> list[str]:
    """The table's lines about the runner-only figure."""
    if pg.get("runners_error"):
        return [f"PostgreSQL: the runner-only figure did not run: {pg['runners_error']}"]
    runners = pg.get("runners")
    if not runners:
        return []
    naive = pg["naive_claims_per_s"]
    return [
        "PostgreSQL, API-only server (TASKY_RUNNER=off) + headless runners: "
        + "; ".join(
            f"{count} runner{'s' if count > 1 else ''} {'~' if r['capped'] else ''}"
            f"{r['tasks_per_s']:,.0f} tasks/s"
            f" ({r['tasks_per_s'] / naive:.2f} x naive; rounds "
            + ", ".join(f"{x['tasks_per_s']:,.0f}" for x in r["rounds"])
            + ")"
            for count, r in runners.items()
        ),
        f"PostgreSQL, 2 servers: {pg['e2e_tasks_per_s']:,.0f} tasks/s, {pg['ratio']:.2f} x the"
        f" naive loop ({naive:,.0f} claims/s)",
    ]


class Runners:
    """Headless ``tasky runner`` processes of the tree under test, as a user starts them
    (``python -m tasky runner``), sharing one database; stopped with SIGTERM."""

    def __init__(self, root: Path, data: Path, database_url: str):
        self.root = root
        self.data = data
        self.env = clean_env(tasky_env(data, database_url), root)
        self.procs: list[subprocess.Popen] = []

    def add(self) -> None:
        log = self.data / f"runner-{len(self.procs)}-{time.time():.0f}.log"
        self.procs.append(spawn(["-m", "tasky", "runner"], self.root, self.env, log))

    def wait_live(self, conn: Conn, timeout: float = 60.0) -> None:
        """Until ``/tasky/v1/runners`` lists every one of them live."""
        pids = {p.pid for p in self.procs}
        listed: list[dict] = []

        def live() -> bool:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"runner {proc.pid} exited with {proc.returncode}")
            listed[:] = conn.get("/tasky/v1/runners")["runners"]
            return pids <= {r["pid"] for r in listed if r["status"] == "live"}

        try:
            figures.wait_until(live, timeout, 0.1, f"runners {sorted(pids)} live")
        except TimeoutError as exc:
            seen = [(r["pid"], r["status"], r["heartbeat_at"]) for r in listed]
            raise TimeoutError(f"{exc}; /tasky/v1/runners lists {seen}") from None

    def scale(self, count: int, conn: Conn) -> bool:
        """Start or stop runners until ``count`` run, all listed live; whether one started."""
        started = count > len(self.procs)
        while len(self.procs) < count:
            self.add()
        while len(self.procs) > count:
            stop_process(self.procs.pop())
        self.wait_live(conn)
        return started

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)  # all at once: they stop side by side
        for proc in self.procs:
            stop_process(proc)


def fig_runners(
    root: Path,
    work: Path,
    url: str,
    *,
    n: int,
    rounds: int,
    cap: float,
    counts: tuple[int, ...] = RUNNER_COUNTS,
) -> dict[int, dict]:
    """End-to-end throughput (figure 2's round) of one API-only server (``TASKY_RUNNER=off``,
    batches posted to it) and each count of headless runners on the database ``url``; per
    count, the median of ``rounds``.

    The counts alternate within each round (1, 2, 3 runners, then back to 1), so that a
    change of the machine's load hits every count alike; a runner just started runs a
    warm-up batch first. The finished tasks stay, as in figure 2's rounds: each count finds
    more of them than the one before. (Emptied between counts, the table was analyzed
    while empty, and the planner's plans for it stalled every runner for minutes once a
    batch arrived.)"""
    api = Server.tasky(root, work, env={"TASKY_RUNNER": "off"}, database_url=url)
    runners = Runners(root, work, url)
    measured: dict[int, list[dict]] = {count: [] for count in counts}
    try:
        api.start()
        conn = api.conn()
        for _ in range(rounds):
            for count in counts:
                if runners.scale(count, conn):
                    done = figures.stats(conn)["completed"]
                    figures.e2e_round(conn, [str(work)], min(n, 200), done, cap)  # warm-up
                done = figures.stats(conn)["completed"]
                measured[count].append(figures.e2e_round(conn, [str(work)], n, done, cap))
    finally:
        runners.stop()
        api.stop()
    return {
        count: {
            "tasks_per_s": statistics.median(r["tasks_per_s"] for r in results),
            "capped": any(r["capped"] for r in results),
            "rounds": results,
            "n": n,
        }
        for count, results in measured.items()
    }
