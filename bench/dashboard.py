"""The dashboard with the scale figure's tasks stored: server time of its pages and of the
API routes they call (the ``Server-Timing`` header Tasky sends), and with a browser at hand
(Debian's chromium through Playwright) the time until each page shows its data."""

from __future__ import annotations

import http.client
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
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMING = re.compile(r"app;dur=([0-9.]+)")


def server_times(port: int, gets: int) -> dict[str, Any]:
    """Median and p95 of the ``Server-Timing`` of ``gets`` GETs of each path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    figures = {}
    for name, path in PATHS.items():
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


def ready_times(port: int, rounds: int = 3) -> dict[str, Any] | None:
    """Milliseconds from navigation start until each page has drawn its data (the pages
    set ``data-ready`` on ``<body>``); None where no browser can run."""
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
            for name, path in PAGES_READY.items():
                times = []
                for _ in range(rounds):
                    page.goto(f"http://127.0.0.1:{port}{path}")
                    page.wait_for_selector("body[data-ready]", timeout=30_000)
                    times.append(float(page.get_attribute("body", "data-ready") or "nan"))
                figures[name] = {"median_ms": statistics.median(times), "max_ms": max(times)}
        finally:
            browser.close()
    return figures


def measure(port: int, gets: int) -> dict[str, Any]:
    times = server_times(port, gets)
    return {
        "server": times,
        "server_ms": max(
            times[name]["median_ms"] or 0.0
            for name in ("overview_page", "overview_api", "tasks_page", "tasks_api")
        ),
        "ready": ready_times(port),
    }
