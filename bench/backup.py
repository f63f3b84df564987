"""Figure 7: backup and restore of a store holding many tasks.

- export: ``GET /tasky/v1/export`` of ``n`` tasks (half finished with an output, half due
  tomorrow) streamed to a file, rows/s; beside it a bare ``SELECT`` of the columns the export
  reads over the same rows, in this process, just before (on PostgreSQL through a
  server-side cursor). The exporting HTTP process's RSS is sampled every 20 ms: its growth
  over the export is what streaming must keep small.
- import: ``POST /tasky/v1/import`` of that file into a fresh server, rows/s; beside it a
  bare ``executemany`` INSERT of the same rows into a fresh database with the same schema
  and indexes, just before.
- the service during an export: the closed-loop submit rate (4 connections posting echo
  tasks) and the start lateness of 200 tasks spread over a second, each measured alone and
  then while exports stream back to back.

Medians of ``rounds`` (3) each; every rate beside its reference of the same round and its
ratio to it, the ratio being what the code costs whatever the machine's load. On SQLite by
default; ``python -m bench.backup --postgresql`` runs it alone on a throwaway PostgreSQL.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.client import build_request, closed_loop
from bench.figures import SUBMIT_BODY, lateness_round
from bench.noop_worker import NAME as NOOP
from bench.server import Server
from tasky.stores.postgres import SNAPSHOT_FETCH, PostgresStore
from tasky.stores.rows import TASK
from tasky.stores.sqlite import SQLiteStore

FILL_BATCH = 10_000
LOAD_SECONDS = 3.0
LOAD_CONCURRENCY = 4
LATENESS_N = 200
FILLED = (
    "id, worker, status, config, execute_at, created_at, started_at, finished_at, attempts,"
    " max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error, output,"
    " output_truncated, owner, lease_until, lateness, queued_for, ran_for"
)
"""The columns ``filled_rows`` sets (the others keep their defaults)."""
READ = 1 << 20


def filled_rows(n: int) -> Iterator[list[tuple]]:
    """``n`` tasks' rows, by batches: even ones finished with an output, odd ones due
    tomorrow."""
    now = time.time()
    for start in range(0, n, FILL_BATCH):
        rows = []
        for i in range(start, min(n, start + FILL_BATCH)):
            created = now - 3600 + i * 1e-3
            task_id = f"{int(created * 1000):012x}{i:020x}"
            if i % 2:
                rows.append((task_id, NOOP, "scheduled", "{}", now + 86400 + i * 1e-3, created,
                             None, None, 0, 0, 1.0, None, None, None, None, None, False, None,
                             None, None, 0.0, 0.0))  # fmt: skip
            else:
                rows.append((task_id, NOOP, "completed", '{"message": "bench"}', created, created,
                             created + 1e-3, created + 3e-3, 1, 0, 1.0, None, None, None, None,
                             '{"message": "bench"}', False, None, None, 1e-3, 1e-3,
                             2e-3))  # fmt: skip
        yield rows


class Database:
    """A store's database as the bench reaches it without Tasky: a migrated SQLite file or
    PostgreSQL database, filled and read and written by bare statements."""

    def __init__(self, url: str):
        self.url = url
        self.sqlite = url.startswith("sqlite:///")
        store = SQLiteStore(url.removeprefix("sqlite:///")) if self.sqlite else PostgresStore(url)
        store.close()  # the schema and its indexes

    def _connect(self) -> Any:
        if self.sqlite:
            return sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
        return psycopg.connect(self.url, autocommit=True)

    def insert(self, batches: Iterable[list[tuple]]) -> tuple[int, float]:
        """Rows inserted by ``executemany``, one transaction; ``(rows, seconds)``."""
        marks = ", ".join(["?" if self.sqlite else "%s"] * 22)
        sql = f"INSERT INTO tasks ({FILLED}) VALUES ({marks})"
        db, count, seconds = self._connect(), 0, 0.0
        try:
            db.execute("BEGIN")
            for rows in batches:  # made between the timed statements
                t0 = time.perf_counter()
                (db if self.sqlite else db.cursor()).executemany(sql, rows)
                seconds += time.perf_counter() - t0
                count += len(rows)
            t0 = time.perf_counter()
            db.execute("COMMIT")
            return count, seconds + time.perf_counter() - t0
        finally:
            db.close()

    def select(self) -> float:
        """Rows/s of a bare SELECT of the columns an export reads, in id order (on
        PostgreSQL through a server-side cursor, as the export reads)."""
        db = self._connect()
        sql = f"SELECT {TASK.sql} FROM tasks ORDER BY id"
        try:
            t0 = time.perf_counter()
            if self.sqlite:
                count = sum(1 for _ in db.execute(sql))
            else:
                with db.transaction(), db.cursor(name="bench_select") as cursor:
                    cursor.itersize = SNAPSHOT_FETCH
                    cursor.execute(sql)
                    count = sum(1 for _ in cursor)
            return count / (time.perf_counter() - t0)
        finally:
            db.close()


def http_process(server: Server) -> psutil.Process:
    """The gunicorn worker (the HTTP process, whose child is its runner)."""
    return psutil.Process(server.proc.pid).children()[0]


def export_to(server: Server, path: Path | None) -> dict:
    """One export, streamed to ``path`` (or counted and dropped); its rows/s and the HTTP
    process's RSS growth meanwhile."""
    process = http_process(server)
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", "/tasky/v1/export")
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"export: {resp.status} {resp.read(300)!r}")
    lines = 0
    out = open(path, "wb") if path is not None else None  # noqa: SIM115
    try:
        while chunk := resp.read(READ):
            lines += chunk.count(b"\n")
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    elapsed = time.perf_counter() - t0
    done.set()
    sampler.join()
    conn.close()
    return {
        "rows_per_s": (lines - 1) / elapsed,
        "rows": lines - 1,
        "seconds": elapsed,
        "rss_before_mb": before / 2**20,
        "rss_growth_mb": (peak[0] - before) / 2**20,
    }


def import_from(server: Server, path: Path) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    size = path.stat().st_size
    with open(path, "rb") as body:
        t0 = time.perf_counter()
        conn.request(
            "POST",
            "/tasky/v1/import",
            body=body,
            headers={"Content-Type": "application/x-ndjson", "Content-Length": str(size)},
        )
        resp = conn.getresponse()
        answer = resp.read()
        elapsed = time.perf_counter() - t0
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"import: {resp.status} {answer[:300]!r}")
    report = json.loads(answer)
    rows = report["imported"]["tasks"] + report["imported"]["schedules"]
    return {"rows_per_s": rows / elapsed, "rows": rows, "seconds": elapsed}


def under_load(server: Server, exporting: bool) -> dict:
    """Submit rate and start lateness, with exports streaming back to back or not."""
    stop = threading.Event()
    exports = []

    def export_loop() -> None:
        while not stop.is_set():
            exports.append(export_to(server, None))

    exporter = threading.Thread(target=export_loop, daemon=True)
    if exporting:
        exporter.start()
        time.sleep(0.3)  # the first export is streaming
    try:
        raw = build_request("POST", "/tasky/v1/workers/echo", SUBMIT_BODY)
        load = closed_loop(
            server.port,
            raw,
            expect=201,
            concurrency=LOAD_CONCURRENCY,
            seconds=LOAD_SECONDS,
            warmup=0.2,
        )
        late = lateness_round(server, server.conn(), LATENESS_N, 1.0, 1.5)
    finally:
        stop.set()
        if exporting:
            exporter.join(600)
    return {"submit_rps": load.rps, "p50_ms": late["p50_ms"], "p99_ms": late["p99_ms"]}


def sqlite_database(work: Path) -> Callable[[str], str]:
    """Each name a fresh SQLite file under ``work``."""
    return lambda name: f"sqlite:///{work / name}.db"


def fig_backup(
    root: Path,
    work: Path,
    *,
    n: int,
    rounds: int,
    new_database: Callable[[str], str] | None = None,
) -> dict:
    """The figures on fresh databases of ``new_database`` (a name to a URL; by default
    SQLite files in ``work``). Each export and import is paired with its reference, measured
    just before it, and its ratio to it taken pair by pair."""
    new_database = new_database or sqlite_database(work)
    source = Database(new_database("backup-source"))
    source.insert(filled_rows(n))
    exported = work / "backup.ndjson"
    exports, quiet, busy = [], [], []
    with Server.tasky(root, work / "backup-source", database_url=source.url) as server:
        for _ in range(rounds):
            reference = source.select()
            exports.append(export_to(server, exported))
            exports[-1] |= {"ref_rows_per_s": reference,
                            "ratio": exports[-1]["rows_per_s"] / reference}  # fmt: skip
        for _ in range(rounds):  # alternating, so drift hits both alike
            quiet.append(under_load(server, exporting=False))
            busy.append(under_load(server, exporting=True))
    imports = []
    for i in range(rounds):
        count, seconds = Database(new_database(f"bare-{i}")).insert(filled_rows(n))
        url = new_database(f"backup-target-{i}")
        with Server.tasky(root, work / f"backup-target-{i}", database_url=url) as target:
            imports.append(import_from(target, exported))
        if imports[-1]["rows"] != n:
            raise AssertionError(f"import: {imports[-1]['rows']} rows of {n}")
        imports[-1] |= {"ref_rows_per_s": count / seconds,
                        "ratio": imports[-1]["rows_per_s"] * seconds / count}  # fmt: skip

    def median(results: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in results)

    return {
        "tasks": n,
        "store": "sqlite" if source.sqlite else "postgresql",
        "export_rows_per_s": median(exports, "rows_per_s"),
        "export_ref_rows_per_s": median(exports, "ref_rows_per_s"),
        "export_ratio": median(exports, "ratio"),
        "export_rss_growth_mb": median(exports, "rss_growth_mb"),
        "export_rss_before_mb": median(exports, "rss_before_mb"),
        "export_mb": exported.stat().st_size / 2**20,
        "import_rows_per_s": median(imports, "rows_per_s"),
        "import_ref_rows_per_s": median(imports, "ref_rows_per_s"),
        "import_ratio": median(imports, "ratio"),
        "submit_rps": median(quiet, "submit_rps"),
        "submit_rps_exporting": median(busy, "submit_rps"),
        "lateness_p50_ms": median(quiet, "p50_ms"),
        "lateness_p50_ms_exporting": median(busy, "p50_ms"),
        "lateness_p99_ms": median(quiet, "p99_ms"),
        "lateness_p99_ms_exporting": median(busy, "p99_ms"),
        "exports": exports,
        "imports": imports,
        "quiet": quiet,
        "exporting": busy,
    }


def table_rows(m: dict, fmt, met) -> list[tuple[str, str, str, str, str]]:
    """Figure 7's rows of the table (``fmt`` and ``met`` as the run's)."""
    if not m:
        return [("7. backup", "not run", "", "", "-")]
    slowdown = m["submit_rps_exporting"] / m["submit_rps"]
    return [
        (
            f"7. export of {fmt(m['tasks'])} tasks, {m['store']} (median of {len(m['exports'])})",
            f"{fmt(m['export_rows_per_s'])} rows/s = {m['export_ratio']:.2f} x bare",
            ">= 100,000 rows/s",
            f"bare SELECT: {fmt(m['export_ref_rows_per_s'])} rows/s",
            met(m["export_rows_per_s"], 100_000, False),
        ),
        (
            "   exporting process RSS growth",
            f"{fmt(m['export_rss_growth_mb'], 1)} MB",
            "< 20 MB",
            f"before: {fmt(m['export_rss_before_mb'], 1)} MB",
            met(m["export_rss_growth_mb"], 20, True),
        ),
        (
            f"   import of the same ({fmt(m['export_mb'], 0)} MB, median of {len(m['imports'])})",
            f"{fmt(m['import_rows_per_s'])} rows/s = {m['import_ratio']:.2f} x bare",
            ">= 50,000 rows/s",
            f"bare executemany INSERT: {fmt(m['import_ref_rows_per_s'])} rows/s",
            met(m["import_rows_per_s"], 50_000, False),
        ),
        (
            f"   submits during exports ({LOAD_CONCURRENCY} conns)",
            f"{fmt(m['submit_rps_exporting'])} req/s ({slowdown:.0%})",
            "",
            f"no export: {fmt(m['submit_rps'])} req/s",
            "",
        ),
        (
            f"   start lateness p99 during exports ({LATENESS_N} tasks)",
            f"{fmt(m['lateness_p99_ms_exporting'], 3)} ms",
            "",
            f"no export: {fmt(m['lateness_p99_ms'], 3)} ms",
            "",
        ),
    ]


def main() -> None:
    """``python -m bench.backup [--n N] [--rounds R] [--postgresql]``: figure 7 alone, on
    SQLite or on a throwaway PostgreSQL server (crash-safe settings)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    from bench.run import _fmt, _met
    from tests.pg_server import PostgresServer

    with tempfile.TemporaryDirectory(prefix="tasky-bench-backup-") as tmp:
        work = Path(tmp)
        if args.postgresql:
            pg = PostgresServer(durable=True).start()
            try:
                m = fig_backup(root, work, n=args.n, rounds=args.rounds,
                               new_database=lambda name: pg.create_database())  # fmt: skip
            finally:
                pg.stop()
        else:
            m = fig_backup(root, work, n=args.n, rounds=args.rounds)
    for row in table_rows(m, _fmt, _met):
        print(" | ".join(row))
    print(json.dumps({k: v for k, v in m.items() if not isinstance(v, list)}, indent=1))


if __name__ == "__main__":
    main()
