"""Target 2: one submit at a time, against the bare Flask POST of ``bench/ref_app.py``.

One connection, sequential requests, three bodies: the bare endpoint, a task due tomorrow
(``later``: the submit alone) and a task run now (``now``: the submit while its runner starts
the task). Measured twice: with ``wrk -c1`` (a native load generator: Debian's ``wrk``; the
figure is skipped, saying so, where it is not installed) and with a Python
``requests.Session`` in this process (what a Python client submitting one task at a time
gets). Rounds alternate bare, later, now, so drift hits all alike; each percentile is the
median over the rounds, and a target's score the median of the rounds' own ratios (each
round's figure over the bare one measured just before it). The echo tasks of ``now``
complete before the next run.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.figures import SUBMIT_BODY, percentile, stats, wait_until
from bench.server import Server
from bench.targets import Target, not_measured

LATER_BODY = b'{"config":{"message":"bench"},"delay":86400}'
CASES = {
    "bare": ("/ref/tasks", SUBMIT_BODY),
    "later": ("/tasky/v1/workers/echo", LATER_BODY),
    "now": ("/tasky/v1/workers/echo", SUBMIT_BODY),
}
"""Each case: its path and body; ``bare`` is served by the reference server."""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
LATENCY_LINE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
P50_RATIO, P99_RATIO, CONCURRENT_RATIO = 1.3, 3.0, 0.8


def wrk_latency(port: int, path: str, body: bytes, seconds: int, script: Path) -> dict:
    """``wrk -t1 -c1 --latency``: p50 and p99 in ms, requests/s; every answer a 2xx."""
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body.decode()}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [
            *("wrk", "-t1", "-c1", f"-d{seconds}s", "--latency", "-s", str(script)),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk got non-2xx answers from {path}:\n{out}")
    found = {pct: float(v) * UNITS[unit] for pct, v, unit in LATENCY_LINE.findall(out)}
    requests = re.search(r"(\d+) requests in", out)
    return {
        "p50_ms": found["50"],
        "p99_ms": found["99"],
        "requests": int(requests.group(1)) if requests else 0,
    }


def session_latency(port: int, path: str, body: bytes, count: int) -> dict:
    """``count`` sequential POSTs from one ``requests.Session``: p50 and p99 in ms."""
    import requests

    url = f"http://127.0.0.1:{port}{path}"
    headers = {"Content-Type": "application/json"}
    times = []
    with requests.Session() as session:
        for _ in range(count):
            t = time.perf_counter()
            answer = session.post(url, data=body, headers=headers)
            times.append((time.perf_counter() - t) * 1000)
            if answer.status_code != 201:
                raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "requests": count}


def paired_ratio(rounds: list[dict], references: list[dict], key: str) -> float | None:
    """The median of each round's figure over the reference measured just before it."""
    ratios = [r[key] / ref[key] for r, ref in zip(rounds, references, strict=True) if ref[key]]
    return statistics.median(ratios) if ratios else None


def _median(rounds: list[dict]) -> dict:
    return {
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "rounds": rounds,
    }


def fig_submit_latency(
    root: Path, work: Path, *, rounds: int, wrk_seconds: int, session_count: int
) -> dict:
    tasky = Server.tasky(root, work / "latency")
    ref = Server.reference(root, work / "latency-ref")
    has_wrk = shutil.which("wrk") is not None
    try:
        tasky.start()
        ref.start()
        conn = tasky.conn()
        port = {"bare": ref.port, "later": tasky.port, "now": tasky.port}

        def measure(tool: str, case: str, scale: float = 1.0) -> dict:
            path, body = CASES[case]
            done_before = stats(conn, "echo")["completed"]
            if tool == "wrk":
                seconds = max(1, round(wrk_seconds * scale))
                got = wrk_latency(port[case], path, body, seconds, work / f"{case}.lua")
            else:
                count = max(10, int(session_count * scale))
                got = session_latency(port[case], path, body, count)
            if case == "now":  # the next run must not pay for these tasks
                wait_until(
                    lambda: stats(conn, "echo")["completed"] >= done_before + got["requests"],
                    120,
                    0.05,
                    "echo tasks of the run completed",
                )
            return got

        tools = ["wrk", "session"] if has_wrk else ["session"]
        for tool in tools:  # warm-up: imports, first requests, SQLite pages
            for case in CASES:
                measure(tool, case, 0.2)
        got: dict[str, dict[str, list[dict]]] = {t: {c: [] for c in CASES} for t in tools}
        for _ in range(rounds):
            for tool in tools:
                for case in CASES:
                    got[tool][case].append(measure(tool, case))
        result: dict = {t: {c: _median(r) for c, r in cases.items()} for t, cases in got.items()}
        if not has_wrk:
            result["wrk"] = {"skipped": "wrk is not installed (apt-get install wrk)"}
        result["rounds"] = rounds
        return result
    finally:
        tasky.stop()
        ref.stop()


def targets(measured: dict[str, dict]) -> list[Target]:
    """Target 2: p50 and p99 of each case against bare, with each tool; 8 connections."""
    found = []
    latency = measured.get("submit_latency", {})
    for tool, label in (("wrk", "wrk -c1"), ("session", "requests.Session")):
        cases = latency.get(tool)
        if not cases or "skipped" in cases:
            why = cases["skipped"] if cases else "not run"
            found.append(not_measured(2, f"submit, 1 connection, {label}", why, P50_RATIO, True))
            continue
        for case, what in (("later", "due tomorrow"), ("now", "run now")):
            for pct, limit in (("p50_ms", P50_RATIO), ("p99_ms", P99_RATIO)):
                found.append(
                    Target(
                        2,
                        f"submit {what}, {pct[:3]}, 1 conn, {label}",
                        cases[case][pct],
                        cases["bare"][pct],
                        f"bare Flask {pct[:3]}",
                        limit,
                        at_most=True,
                        unit=" ms",
                        paired=paired_ratio(cases[case]["rounds"], cases["bare"]["rounds"], pct),
                    )
                )
    concurrent = measured.get("submit", {})
    found.append(
        Target(
            2,
            f"submit run now, {concurrent.get('concurrency', 8)} connections, req/s",
            concurrent.get("submit_rps"),
            concurrent.get("flask_post_rps"),
            "bare Flask",
            CONCURRENT_RATIO,
            at_most=False,
            unit=" req/s",
        )
    )
    return found
