"""Webhooks: how soon a task's end reaches a receiver.

``python -m bench.webhooks [--smoke] [--pg-local] [--out FILE]`` starts Tasky as a user does
(one process, SQLite, or PostgreSQL with ``TASKY_BENCH_PG_URL``; private addresses allowed,
since the receiver is on 127.0.0.1), creates an endpoint for ``task.completed`` of the
benchmark's no-op worker, and submits its tasks one at a time on an idle server:

- ``delivery_p50_ms`` / ``delivery_p99_ms``: a task's ``finished_at`` (its worker's end, as
  stored) to the moment the receiver has its delivery;
- ``receiver_p50_ms`` / ``receiver_p99_ms``, the reference of the same run: a POST of the same
  size from this process straight to the receiver, the floor of any delivery over HTTP.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from bench.chains import epoch
from bench.figures import percentile, wait_until
from bench.noop_worker import NAME
from bench.server import Server
from bench.standalone import arguments, database, report

ROOT = Path(__file__).resolve().parents[1]


class Receiver:
    """An HTTP receiver on 127.0.0.1 recording when each delivery arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.arrivals.append((time.time(), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def delivery_latency(server: Server, receiver: Receiver, rounds: int) -> list[float]:
    base = f"http://127.0.0.1:{server.port}/tasky/v1"
    session = requests.Session()
    hook = {"url": receiver.url, "events": ["task.completed"], "filter": {"worker": NAME}}
    session.post(f"{base}/webhooks", json=hook, timeout=10).raise_for_status()
    latencies = []
    for _ in range(rounds):
        seen = receiver.count()
        session.post(f"{base}/workers/{NAME}", json={}, timeout=10).raise_for_status()
        wait_until(lambda seen=seen: receiver.count() > seen, 60, 0.001, "a delivery")
        arrived, body = receiver.arrivals[seen]
        latencies.append(arrived - epoch(json.loads(body)["data"]["finished_at"]))
        time.sleep(0.05)  # idle between rounds: each delivery starts from a sleeping runner
    return latencies


def receiver_floor(receiver: Receiver, rounds: int) -> list[float]:
    """A POST of a delivery's size straight to the receiver, each on a new connection as a
    delivery attempt makes it."""
    body = json.dumps({"type": "task.completed", "data": {"output": "x" * 400}}).encode()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        requests.post(receiver.url, data=body, timeout=10).raise_for_status()
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    rounds = 5 if args.smoke else 200
    with ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="tasky-bench-webhooks-"))
        url = database(stack, args.pg_local)
        receiver = Receiver()
        stack.callback(receiver.close)
        env = {"TASKY_WEBHOOK_ALLOW_PRIVATE": "1"}
        with Server.tasky(ROOT, Path(work) / "data", env=env, database_url=url) as server:
            latencies = delivery_latency(server, receiver, rounds)
        floor = receiver_floor(receiver, rounds)
    results = {
        "store": "postgresql" if url else "sqlite",
        "deliveries": rounds,
        "delivery_p50_ms": statistics.median(latencies) * 1000,
        "delivery_p99_ms": percentile(latencies, 99) * 1000,
        "receiver_p50_ms": statistics.median(floor) * 1000,
        "receiver_p99_ms": percentile(floor, 99) * 1000,
    }
    report(results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
