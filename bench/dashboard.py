"""The dashboard with the scale figure's tasks stored (and a 200-step chain beside them):
server time of its pages and of the API routes they call (the ``Server-Timing`` header Tasky
sends), and with a browser at hand (Debian's chromium through Playwright) the time until each
page shows its data, and how long the chain page takes to draw its graph."""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
from typing import Any

from bench.figures import percentile

PATHS = {
    "overview_page": "/",
    "overview_api": "/tasky/v1/overview?range=1h",
    "tasks_page": "/tasks",
    "tasks_api": "/tasky/v1/tasks/?limit=50",
    "live_feed": "/tasky/v1/live",
}
PAGES_READY = {"overview": "/", "tasks": "/tasks"}
CHAIN_WIDTH, CHAIN_DEPTH = 10, 20
"""The chain drawn: 20 layers of 10 steps, each step after two of the layer before."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMING = re.compile(r"app;dur=([0-9.]+)")


def chain_steps(width: int, depth: int) -> list[dict[str, Any]]:
    """``depth`` layers of ``width`` sleeper steps due in a day (none runs while measured),
    each step after two of the layer before."""
    steps = []
    for layer in range(depth):
        for i in range(width):
            parents = [f"s{layer - 1}-{j % width}" for j in (i, i + 1)] if layer else []
            steps.append(
                {
                    "step": f"s{layer}-{i}",
                    "worker": "sleeper",
                    "depends_on": parents,
                    "delay": 86400,
                }
            )
    return steps


def submit_chain(port: int) -> str:
    """Store the chain the chain page draws; its id."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"name": "bench", "steps": chain_steps(CHAIN_WIDTH, CHAIN_DEPTH)})
    conn.request("POST", "/tasky/v1/chains", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    conn.close()
    if resp.status != 201:
        raise AssertionError(f"POST /tasky/v1/chains: {resp.status} {answer}")
    return answer["chain_id"]


def server_times(port: int, gets: int, paths: dict[str, str]) -> dict[str, Any]:
    """Median and p95 of the ``Server-Timing`` of ``gets`` GETs of each path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    figures = {}
    for name, path in paths.items():
        times = []
        for i in range(gets + 2):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise AssertionError(f"GET {path}: {resp.status}")
            found = TIMING.search(resp.getheader("Server-Timing") or "")
            if found and i >= 2:  # two warm-up requests
                times.append(float(found.group(1)))
        figures[name] = {
            "median_ms": statistics.median(times) if times else None,
            "p95_ms": percentile(times, 95) if times else None,
            "count": len(times),
        }
    conn.close()
    return figures


def ready_times(port: int, pages: dict[str, str], rounds: int = 3) -> dict[str, Any] | None:
    """Milliseconds from navigation start until each page has drawn its data (the pages
    set ``data-ready`` on ``<body>``), and for the chain page the time its graph took to
    draw (``data-draw-ms``); None where no browser can run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.access(CHROMIUM, os.X_OK):
        return None
    figures: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for name, path in pages.items():
                times, draws = [], []
                for _ in range(rounds):
                    page.goto(f"http://127.0.0.1:{port}{path}")
                    page.wait_for_selector("body[data-ready]", timeout=30_000)
                    times.append(float(page.get_attribute("body", "data-ready") or "nan"))
                    drawn = page.evaluate(
                        "document.querySelector('[data-draw-ms]')?.dataset.drawMs"
                    )
                    if drawn is not None:
                        draws.append(float(drawn))
                figures[name] = {"median_ms": statistics.median(times), "max_ms": max(times)}
                if draws:
                    figures[name]["draw_ms"] = statistics.median(draws)
        finally:
            browser.close()
    return figures


def measure(port: int, gets: int) -> dict[str, Any]:
    chain_id = submit_chain(port)
    paths = {
        **PATHS,
        "chain_page": f"/chains/{chain_id}",
        "chain_api": f"/tasky/v1/chains/{chain_id}",
    }
    times = server_times(port, gets, paths)
    return {
        "server": times,
        "server_ms": max(
            times[name]["median_ms"] or 0.0
            for name in ("overview_page", "overview_api", "tasks_page", "tasks_api")
        ),
        "ready": ready_times(port, {**PAGES_READY, "chain": f"/chains/{chain_id}"}),
    }
