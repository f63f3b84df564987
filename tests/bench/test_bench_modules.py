"""The benchmarks run on their own (chains, webhooks) run end to end on tiny sizes and write
their JSON, so they cannot rot. No timing is asserted: the figures of a smoke run mean
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "bench.chains": {
        "store",
        "release_p50_ms",
        "release_p99_ms",
        "chain_steps",
        "chain_submit_ms",
        "fan_width",
        "fan_out_ms",
        "fan_in_ms",
    },
    "bench.webhooks": {
        "store",
        "deliveries",
        "delivery_p50_ms",
        "delivery_p99_ms",
        "receiver_p50_ms",
        "receiver_p99_ms",
    },
}

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.parametrize("module", sorted(KEYS))
def test_smoke_run_writes_every_figure(tmp_path, module):
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--out", str(out)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=110,
        env={**os.environ, "TASKY_BENCH_PG_URL": ""},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == KEYS[module]
    assert results["store"] == "sqlite"
    assert all(results[key] >= 0 for key in KEYS[module] - {"store"})
