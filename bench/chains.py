"""Chains: how fast a child starts once its parent has ended, and what big chains cost.

``python -m bench.chains [--smoke] [--out FILE]`` starts Tasky as a user does (one process,
SQLite, or PostgreSQL with ``TASKY_BENCH_PG_URL``) with the benchmark's no-op worker, which
records when each ``perform`` starts (``--pg-local``: on a throwaway PostgreSQL server, as
``bench.run`` starts one), and measures:

- ``release_p50_ms`` / ``release_p99_ms``: a parent's ``finished_at`` (its worker's end, as
  stored) to its child's start, over two-step chains run one at a time on an idle server;
- ``chain_submit_ms``: ``POST /tasky/v1/chains`` of a 1,000-step sequence;
- ``fan_out_ms``: the root's end to the last of its 1,000 children's start;
- ``fan_in_ms``: the last of 1,000 parents' end to their child's start.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from bench.figures import percentile, wait_until
from bench.noop_worker import NAME, read_starts
from bench.server import Server
from bench.standalone import arguments, database, report

ROOT = Path(__file__).resolve().parents[1]


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _step(name: str, depends_on: list[str] | tuple[str, ...] = ()) -> dict:
    return {"step": name, "worker": NAME, "depends_on": list(depends_on)}


class Bench:
    def __init__(self, server: Server):
        self.server = server
        self.conn = server.conn()

    def chain(self, steps: list[dict]) -> tuple[dict, float]:
        """Submit; the answer and the seconds it took."""
        started = time.perf_counter()
        answer = self.conn.request("POST", "/tasky/v1/chains", {"steps": steps}, expect=201)
        return answer, time.perf_counter() - started

    def finished_at(self, task_id: str) -> float:
        task = wait_until(
            lambda: (t := self.conn.get(f"/tasky/v1/tasks/{task_id}"))["finished_at"] and t,
            60,
            0.005,
            f"task {task_id} finished",
        )
        return epoch(task["finished_at"])

    def started(self, ids: list[str], timeout: float = 120) -> dict[str, float]:
        """The recorded starts of ``ids``, once all have started."""
        wanted = set(ids)
        return wait_until(
            lambda: (s := read_starts(str(self.server.data))).keys() >= wanted and s,
            timeout,
            0.005,
            f"{len(ids)} starts",
        )

    def release_latency(self, rounds: int) -> list[float]:
        latencies = []
        for _ in range(rounds):
            answer, _ = self.chain([_step("parent"), _step("child", ["parent"])])
            parent, child = answer["steps"]["parent"], answer["steps"]["child"]
            child_start = self.started([child])[child]
            latencies.append(child_start - self.finished_at(parent))
            time.sleep(0.05)  # idle between rounds: each release starts from a sleeping runner
        return latencies

    def fan_out(self, width: int) -> float:
        answer, _ = self.chain([_step("root")] + [_step(f"c{i}", ["root"]) for i in range(width)])
        children = [answer["steps"][f"c{i}"] for i in range(width)]
        starts = self.started(children)
        return max(starts[c] for c in children) - self.finished_at(answer["steps"]["root"])

    def fan_in(self, width: int) -> float:
        parents = [_step(f"p{i}") for i in range(width)]
        answer, _ = self.chain([*parents, _step("join", [p["step"] for p in parents])])
        join = answer["steps"]["join"]
        join_start = self.started([join])[join]
        last = max(self.finished_at(answer["steps"][p["step"]]) for p in parents)
        return join_start - last

    def sequence_submit(self, length: int) -> float:
        steps = [_step("s0")] + [_step(f"s{i}", [f"s{i - 1}"]) for i in range(1, length)]
        answer, seconds = self.chain(steps)
        last = answer["steps"][f"s{length - 1}"]
        self.started([last], timeout=600)
        return seconds


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv)
    rounds, width, length = (5, 20, 20) if args.smoke else (100, 1000, 1000)
    with ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="tasky-bench-chains-"))
        url = database(stack, args.pg_local)
        with Server.tasky(ROOT, Path(work) / "data", database_url=url) as server:
            bench = Bench(server)
            latencies = bench.release_latency(rounds)
            results = {
                "store": "postgresql" if url else "sqlite",
                "release_p50_ms": statistics.median(latencies) * 1000,
                "release_p99_ms": percentile(latencies, 99) * 1000,
                "chain_steps": length,
                "chain_submit_ms": bench.sequence_submit(length) * 1000,
                "fan_width": width,
                "fan_out_ms": bench.fan_out(width) * 1000,
                "fan_in_ms": bench.fan_in(width) * 1000,
            }
    report(results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
