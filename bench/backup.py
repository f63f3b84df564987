"""Figure 7: backup and restore of a store holding many tasks.

- export: ``GET /tasky/v1/export`` of ``n`` tasks (half finished with an output, half due
  tomorrow) streamed to a file, rows/s; beside it a bare ``SELECT`` of the same columns over
  the same rows, in this process. The exporting HTTP process's RSS is sampled every 20 ms:
  its growth over the export is what streaming must keep small.
- import: ``POST /tasky/v1/import`` of that file into a fresh server, rows/s; beside it a
  bare ``executemany`` INSERT of the same rows into a fresh file with the same schema.
- the service during an export: the closed-loop submit rate (4 connections posting echo
  tasks) and the start lateness of 200 tasks spread over a second, each measured alone and
  then while exports stream back to back.

Medians of ``rounds`` (3) each; every figure beside its reference of the same run.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import statistics
import threading
import time
from pathlib import Path

import psutil

from bench.client import build_request, closed_loop
from bench.figures import SUBMIT_BODY, lateness_round
from bench.noop_worker import NAME as NOOP
from bench.server import Server

FILL_BATCH = 10_000
LOAD_SECONDS = 3.0
LOAD_CONCURRENCY = 4
LATENESS_N = 200
TASK_COLUMNS = (
    "id, worker, status, config, execute_at, created_at, started_at, finished_at, attempts,"
    " max_retries, retry_backoff, timeout, schedule_id, idempotency_key, error, output,"
    " output_truncated, owner, lease_until, lateness, queued_for, ran_for"
)
READ = 1 << 20


def fill(path: Path, n: int) -> None:
    """``n`` tasks written straight into a migrated database: even ones finished with an
    output, odd ones due tomorrow."""
    from tasky.stores.sqlite import SQLiteStore

    SQLiteStore(str(path)).close()  # the schema
    now = time.time()
    db = sqlite3.connect(path, isolation_level=None)
    marks = ", ".join(["?"] * 22)
    for start in range(0, n, FILL_BATCH):
        rows = []
        for i in range(start, min(n, start + FILL_BATCH)):
            created = now - 3600 + i * 1e-3
            task_id = f"{int(created * 1000):012x}{i:020x}"
            if i % 2:
                rows.append((task_id, NOOP, "scheduled", "{}", now + 86400 + i * 1e-3, created,
                             None, None, 0, 0, 1.0, None, None, None, None, None, 0, None, None,
                             None, 0.0, 0.0))  # fmt: skip
            else:
                rows.append((task_id, NOOP, "completed", '{"message": "bench"}', created, created,
                             created + 1e-3, created + 3e-3, 1, 0, 1.0, None, None, None, None,
                             '{"message": "bench"}', 0, None, None, 1e-3, 1e-3, 2e-3))  # fmt: skip
        db.execute("BEGIN")
        db.executemany(f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({marks})", rows)
        db.execute("COMMIT")
    db.close()


def bare_select(path: Path) -> float:
    """Rows/s of a bare SELECT of the task columns, in id order, in this process."""
    db = sqlite3.connect(path)
    t0 = time.perf_counter()
    count = sum(1 for _ in db.execute(f"SELECT {TASK_COLUMNS} FROM tasks ORDER BY id"))
    elapsed = time.perf_counter() - t0
    db.close()
    return count / elapsed


def bare_insert(source: Path, target: Path) -> float:
    """Rows/s of inserting the source's rows into a fresh migrated file, one transaction."""
    from tasky.stores.sqlite import SQLiteStore

    SQLiteStore(str(target)).close()
    rows = sqlite3.connect(source).execute(f"SELECT {TASK_COLUMNS} FROM tasks").fetchall()
    db = sqlite3.connect(target, isolation_level=None)
    marks = ", ".join(["?"] * 22)
    t0 = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({marks})", rows)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    db.close()
    return len(rows) / elapsed


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


def fig_backup(root: Path, work: Path, *, n: int, rounds: int) -> dict:
    source = work / "backup-source"
    source.mkdir(parents=True)
    fill(source / "tasks.db", n)
    reference_select = [bare_select(source / "tasks.db") for _ in range(rounds)]
    exported = work / "backup.ndjson"
    exports, quiet, busy = [], [], []
    with Server.tasky(root, source) as server:
        for _ in range(rounds):
            exports.append(export_to(server, exported))
        for _ in range(rounds):  # alternating, so drift hits both alike
            quiet.append(under_load(server, exporting=False))
            busy.append(under_load(server, exporting=True))
    imports, reference_insert = [], []
    for i in range(rounds):
        reference_insert.append(bare_insert(source / "tasks.db", work / f"bare-{i}.db"))
        with Server.tasky(root, work / f"backup-target-{i}") as target:
            imports.append(import_from(target, exported))
        if imports[-1]["rows"] != n:
            raise AssertionError(f"import: {imports[-1]['rows']} rows of {n}")

    def median(results: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in results)

    return {
        "tasks": n,
        "export_rows_per_s": median(exports, "rows_per_s"),
        "export_ref_rows_per_s": statistics.median(reference_select),
        "export_rss_growth_mb": median(exports, "rss_growth_mb"),
        "export_rss_before_mb": median(exports, "rss_before_mb"),
        "export_mb": exported.stat().st_size / 2**20,
        "import_rows_per_s": median(imports, "rows_per_s"),
        "import_ref_rows_per_s": statistics.median(reference_insert),
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
            f"7. export of {fmt(m['tasks'])} tasks (median of {len(m['exports'])})",
            f"{fmt(m['export_rows_per_s'])} rows/s",
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
            f"{fmt(m['import_rows_per_s'])} rows/s",
            ">= 50,000 rows/s",
            f"bare INSERT: {fmt(m['import_ref_rows_per_s'])} rows/s",
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
