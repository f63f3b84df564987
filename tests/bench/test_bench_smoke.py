"""The benchmark harness runs end to end on tiny sizes and writes its JSON, so it cannot rot.
No timing is asserted here: the figures of a smoke run mean nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.engine import KEYS as ENGINE_KEYS
from tests.pg_server import DEFAULT_BIN

ROOT = Path(__file__).resolve().parents[2]

KEYS = {
    "lateness_p50_ms",
    "lateness_p99_ms",
    "e2e_tasks_per_s",
    "submit_rps",
    "flask_post_rps",
    "submit_ratio",
    "scale_tasks",
    "scale_insert_per_s",
    "scale_rss_mb",
    "scale_lateness_p99_ms",
    "list_ms",
    "dashboard_server_ms",
    "dashboard_ready_ms",
    "pg_e2e_tasks_per_s",
    "pg_naive_claims_per_s",
    "pg_two_servers_ratio",
    "pg_runners_1_tasks_per_s",
    "pg_runners_2_tasks_per_s",
    "pg_runners_3_tasks_per_s",
    "tick_lateness_p50_ms",
    "tick_lateness_p99_ms",
    "tick_runs",
    "tick_expected",
    "export_rows_per_s",
    "export_ref_rows_per_s",
    "export_rss_growth_mb",
    "import_rows_per_s",
    "import_ref_rows_per_s",
    "export_submit_ratio",
    *(
        f"submit_c1_{tool}_{case}_{pct}"
        for tool in ("wrk", "session")
        for case in ("bare", "later", "now")
        for pct in ("p50_ms", "p99_ms")
    ),
    "scale_bare_insert_per_s",
    "scale_insert_ratio",
    *ENGINE_KEYS,
    "targets",
}
PG_KEYS = {key for key in KEYS if key.startswith("pg_")}
SQLITE_KEYS = (
    KEYS
    - PG_KEYS
    - {"dashboard_ready_ms", "targets"}
    - {k for k in KEYS if k.startswith("submit_c1_wrk_")}  # wrk: where installed
)
"""Figures every SQLite run has (the dashboard's page times need a browser: null without)."""

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_smoke_run_writes_every_figure(tmp_path):
    out = tmp_path / "latest.json"
    env = {**os.environ, "TASKY_BENCH_PG_URL": ""}  # no PostgreSQL figures in the smoke run
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,  # a busy machine: every figure starts its own servers
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "figure" in proc.stdout and "met?" in proc.stdout

    results = json.loads(out.read_text())
    assert set(results) == KEYS | {"machine"}
    for key in SQLITE_KEYS:
        assert isinstance(results[key], (int, float)), (key, results[key])
    assert results["scale_tasks"] > 0
    # The schedule figure ran and counted its ticks (10 in --smoke); whether each fired once
    # and on time is the full benchmark's to report, not this test's.
    assert results["tick_expected"] == 10
    assert isinstance(results["tick_runs"], int) and results["tick_runs"] > 0
    assert "ticks fired / expected" in proc.stdout
    # Every target of the performance issue is listed with its verdict, measured or not.
    assert "Targets, each against its reference measured in this run" in proc.stdout
    numbers = {target["number"] for target in results["targets"]}
    assert numbers >= {1, 2, 4, 5, 6}
    by_figure = {target["figure"]: target for target in results["targets"]}
    insert = next(t for f, t in by_figure.items() if f.startswith("batch insert"))
    assert insert["reference"] > 0 and insert["met"] in (True, False)
    machine = results["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"] and machine["date"] and machine["config"]


@pytest.mark.timeout(240)
def test_smoke_run_on_a_local_postgresql_writes_the_pg_figures(tmp_path):
    """Figure 5 on a throwaway PostgreSQL: the naive loop, two servers, and an API-only
    server with 1, 2 and 3 headless runners each give a figure."""
    bin_dir = Path(os.environ.get("TASKY_TEST_PG_BIN") or DEFAULT_BIN)
    if not (bin_dir / "initdb").is_file():
        message = f"PostgreSQL bench NOT RUN: no {bin_dir / 'initdb'}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    out = tmp_path / "latest.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "pg", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        env={**os.environ, "TASKY_BENCH_PG_URL": "local", "TASKY_BENCH_PG_BIN": str(bin_dir)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for key in PG_KEYS:
        assert isinstance(results[key], (int, float)) and results[key] > 0, (key, results[key])
    assert "3 runners" in proc.stdout
