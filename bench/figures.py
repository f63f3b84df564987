"""The benchmark figures, each measured on a fresh server with a fresh SQLite file.

Every function takes the tree under test (``root``), a scratch directory and its sizes, and
returns a plain dict of what it measured (the run's table and JSON are built from those).
"""

from __future__ import annotations

import json
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench.client import Conn, HttpError, build_request, closed_loop
from bench.noop_worker import NAME as NOOP
from bench.noop_worker import count_starts, read_starts
from bench.server import Server
from bench.targets import Target

MAX_BATCH = 10_000
WAITING = ("scheduled", "queued", "running")


# -- helpers ------------------------------------------------------------------------------------


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def percentile(values: Iterable[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def submit_batches(conn: Conn, worker: str, items: list[dict], batch: int = MAX_BATCH) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(items), batch):
        answer = conn.post(
            f"/tasky/v1/workers/{worker}/batch", {"tasks": items[start : start + batch]}
        )
        ids += answer["task_ids"]
    return ids


def stats(conn: Conn, worker: str = NOOP) -> dict:
    return conn.get(f"/tasky/v1/workers/{worker}/statistics")


def wait_until(probe: Callable[[], Any], timeout: float, interval: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:g} s")
        time.sleep(interval)


def wait_drained(conn: Conn, worker: str, timeout: float = 300.0) -> dict:
    """Until the worker has nothing scheduled, queued or running."""
    return wait_until(
        lambda: (s := stats(conn, worker)) and not any(s[k] for k in WAITING) and s,
        timeout,
        0.1,
        f"{worker} drained",
    )


# -- 1. timer precision -----------------------------------------------------------------------


def lateness_round(
    server: Server, conn: Conn, n: int, spread: float, lead: float, cap: float = 60.0
) -> dict:
    """``n`` tasks due at instants spread evenly over ``spread`` seconds, the first ``lead``
    seconds from now; lateness = recorded start of ``perform`` minus ``execute_at``.

    Tasks not started ``cap`` seconds after the last due time count as late as they are by
    then: the percentiles become lower bounds (``not_started`` says how many)."""
    completed_before = stats(conn)["completed"]
    first = time.time() + lead
    dues = [round(first + spread * i / n, 6) for i in range(n)]
    ids = submit_batches(conn, NOOP, [{"execute_at": iso(d)} for d in dues])
    submitted = time.time()
    if submitted > first - 0.1:
        raise RuntimeError(
            f"submitting {n} tasks took {submitted - first + lead:.2f} s, "
            f"more than the lead of {lead} s: raise the lead"
        )
    due_of = dict(zip(ids, dues, strict=True))
    for task_id in (ids[0], ids[len(ids) // 2], ids[-1]):  # the batch answer is in order
        stored = parse_iso(conn.get(f"/tasky/v1/tasks/{task_id}")["execute_at"])
        if abs(stored - due_of[task_id]) > 2e-6:
            raise AssertionError(
                f"task {task_id}: stored execute_at {stored} is not the submitted {due_of[task_id]}"
            )
    wanted = set(ids)
    data = str(server.data)
    deadline = dues[-1] + cap
    # Reading the starts while tasks come due would take a core from the runner: wait first.
    time.sleep(max(0.0, dues[-1] - time.time()))
    while time.time() < deadline:
        if count_starts(data) >= len(wanted) and wanted <= read_starts(data).keys():
            break
        time.sleep(0.05)
    starts = read_starts(data)
    now = time.time()
    late_ms = [(starts.get(i, now) - due_of[i]) * 1000 for i in ids]
    result = summary_ms(late_ms)
    result["not_started"] = sum(1 for i in ids if i not in starts)
    if not result["not_started"]:
        wait_until(
            lambda: stats(conn)["completed"] >= completed_before + n,
            60,
            0.05,
            "lateness tasks completed",
        )
    return result


def summary_ms(late_ms: list[float]) -> dict:
    return {
        "p50_ms": percentile(late_ms, 50),
        "p99_ms": percentile(late_ms, 99),
        "max_ms": max(late_ms),
        "min_ms": min(late_ms),
        "n": len(late_ms),
    }


def median_rounds(rounds: list[dict]) -> dict:
    out = {k: statistics.median(r[k] for r in rounds) for k in ("p50_ms", "p99_ms")}
    out["max_ms"] = max(r["max_ms"] for r in rounds)
    out["min_ms"] = min(r["min_ms"] for r in rounds)
    out["not_started"] = sum(r.get("not_started", 0) for r in rounds)
    out["rounds"] = rounds
    return out


def timer_floor(n: int, spread: float, lead: float = 0.2) -> dict:
    """The reference of figure 1: one Python thread in this process waiting on an Event until
    each due time, as the executor does, but with nothing else to do."""
    event = threading.Event()
    first = time.time() + lead
    late_ms = []
    for i in range(n):
        due = first + spread * i / n
        event.wait(max(0.0, due - time.time()))
        late_ms.append((time.time() - due) * 1000)
    return summary_ms(late_ms)


def fig_lateness(
    root: Path, work: Path, *, n: int, spread: float, rounds: int, lead: float, cap: float
) -> dict:
    with Server.tasky(root, work / "lateness") as server:
        conn = server.conn()
        lateness_round(server, conn, min(n, 50), 0.05, 0.3, cap)  # warm-up, not counted
        results = []
        for _ in range(rounds):
            results.append(lateness_round(server, conn, n, spread, lead, cap))
            if results[-1]["not_started"]:
                break  # the server is still behind: a next round would measure that
        result = median_rounds(results)
        result["rss_mb"] = server.rss_mb()
    result["floor"] = median_rounds([timer_floor(n, spread) for _ in range(rounds)])
    return result


# -- 2. end-to-end throughput -----------------------------------------------------------------


def e2e_round(conn: Conn, data: list[str], n: int, done_before: int, cap: float) -> dict:
    """Submit ``n`` due-now tasks in batches; wait until every one is completed and stored.
    The clock stops at the last ``finished_at`` the store holds (statistics'
    ``last_finished_at``), so polling does not blur it. A round not done within ``cap``
    seconds stops there: its rate (tasks completed by then / elapsed) is a lower bound."""
    started_before = sum(count_starts(d) for d in data)
    t0 = time.time()
    submit_batches(conn, NOOP, [{}] * n)
    t_submitted = time.time()
    deadline = t0 + cap
    while sum(count_starts(d) for d in data) < started_before + n and time.time() < deadline:
        time.sleep(0.02)
    t_started = time.time()
    while True:
        final = stats(conn)
        if final["completed"] + final["failed"] >= done_before + n or time.time() >= deadline:
            break
        time.sleep(0.05)
    done = final["completed"] - done_before
    if final["failed"]:
        raise AssertionError(f"e2e: tasks failed: {final}")
    if done < n:
        elapsed = time.time() - t0
        return {
            "tasks_per_s": done / elapsed,
            "seconds": elapsed,
            "submit_s": t_submitted - t0,
            "all_started_s": None,
            "capped": True,
            "completed": done,
        }
    last = parse_iso(final["last_finished_at"])
    return {
        "tasks_per_s": n / (last - t0),
        "seconds": last - t0,
        "submit_s": t_submitted - t0,
        "all_started_s": t_started - t0,
        "capped": False,
        "completed": done,
    }


def fig_e2e(
    root: Path,
    work: Path,
    *,
    n: int,
    rounds: int,
    cap: float,
    servers: int = 1,
    database_url: str | None = None,
) -> dict:
    """End-to-end throughput on ``servers`` gunicorn servers (one process each) sharing one
    database: batch submit (to the first) → every task completed and stored."""
    running = []
    try:
        for i in range(servers):
            running.append(Server.tasky(root, work / f"e2e-{i}", database_url=database_url).start())
        return e2e_rounds(running[0].conn(), [str(s.data) for s in running], n, rounds, cap)
    finally:
        for server in running:
            server.stop()


def e2e_rounds(conn: Conn, data: list[str], n: int, rounds: int, cap: float) -> dict:
    """A warm-up round, then ``rounds`` rounds of ``n`` tasks (see :func:`e2e_round`) on a
    server whose runners record their starts in the ``data`` directories; the median."""
    e2e_round(conn, data, min(n, 200), stats(conn)["completed"], cap)  # warm-up, not counted
    done = stats(conn)["completed"]
    results = []
    for _ in range(rounds):
        results.append(e2e_round(conn, data, n, done, cap))
        done += n
        if results[-1]["capped"]:
            break  # still busy with this round: a next one would measure that
    return {
        "tasks_per_s": statistics.median(r["tasks_per_s"] for r in results),
        "capped": any(r["capped"] for r in results),
        "rounds": results,
        "n": n,
    }


# -- 3. HTTP submit against a bare Flask endpoint -------------------------------------------------

SUBMIT_BODY = dumps({"config": {"message": "bench"}})


def fig_submit(
    root: Path, work: Path, *, seconds: float, rounds: int, warmup: float, concurrency: int
) -> dict:
    tasky = Server.tasky(root, work / "submit")
    ref = Server.reference(root, work / "ref")
    tasky_raw = build_request("POST", "/tasky/v1/workers/echo", SUBMIT_BODY)
    ref_raw = build_request("POST", "/ref/tasks", SUBMIT_BODY)
    try:
        tasky.start()
        ref.start()
        conn = tasky.conn()

        def run(port: int, raw: bytes, window: float, lead: float):
            return closed_loop(
                port, raw, expect=201, concurrency=concurrency, seconds=window, warmup=lead
            )

        # Warm both up (imports, first requests, SQLite pages), outside the measure.
        run(ref.port, ref_raw, warmup, 0.1)
        run(tasky.port, tasky_raw, warmup, 0.1)
        wait_drained(conn, "echo")
        tasky_runs, ref_runs = [], []
        for _ in range(rounds):  # interleaved, so drift hits both alike
            ref_runs.append(run(ref.port, ref_raw, seconds, 0.2))
            tasky_runs.append(run(tasky.port, tasky_raw, seconds, 0.2))
            # The echo tasks submitted run in the same process: let them finish before the
            # next reference run, so it does not pay for them.
            wait_drained(conn, "echo")
        for result in tasky_runs + ref_runs:
            if result.errors:
                raise HttpError(f"submit load got non-201 answers: {result.statuses}")
        submit_rps = statistics.median(r.rps for r in tasky_runs)
        flask_rps = statistics.median(r.rps for r in ref_runs)
        return {
            "submit_rps": submit_rps,
            "flask_post_rps": flask_rps,
            "ratio": submit_rps / flask_rps,
            "tasky_runs": [r.rps for r in tasky_runs],
            "ref_runs": [r.rps for r in ref_runs],
            "concurrency": concurrency,
            "seconds": seconds,
        }
    finally:
        tasky.stop()
        ref.stop()


# -- 4. scale: many tasks due tomorrow -------------------------------------------------------------

LIST_PATHS = {
    "list": "/tasky/v1/tasks/?limit=100",
    "list_status": "/tasky/v1/tasks/?limit=100&status=scheduled",
}


def _bodies(n: int, batch: int, first: float, step: float, out: queue.Queue) -> None:
    """Build the batch requests in a thread, ahead of the sender (at most two waiting)."""
    path = f"/tasky/v1/workers/{NOOP}/batch"
    for start in range(0, n, batch):
        count = min(batch, n - start)
        items = ",".join(
            f'{{"execute_at":"{iso(first + (start + i) * step)}"}}' for i in range(count)
        )
        out.put((count, build_request("POST", path, b'{"tasks":[' + items.encode() + b"]}")))
    out.put(None)


def list_latency(conn: Conn, path: str, count: int) -> dict:
    raw = build_request("GET", path)
    for _ in range(3):
        conn.send(raw)
    times = []
    for _ in range(count):
        t = time.perf_counter()
        status, body = conn.send(raw)
        times.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise HttpError(f"GET {path}: {status} {body[:300]!r}")
    items = len(json.loads(body)["tasks"])
    return {
        "median_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
        "items": items,
        "count": count,
    }


def fig_scale(
    root: Path,
    work: Path,
    *,
    n: int,
    batch: int,
    list_gets: int,
    lateness_n: int,
    spread: float,
    lead: float,
    cap: float,
    lateness_rounds: int,
) -> dict:
    with Server.tasky(root, work / "scale") as server:
        conn = server.conn()
        rss = {"idle": server.rss_mb()}
        tomorrow = time.time() + 86400
        step = 3600.0 / max(n, 1)  # spread over one hour, a day from now
        bodies: queue.Queue = queue.Queue(maxsize=2)
        builder = threading.Thread(
            target=_bodies, args=(n, batch, tomorrow, step, bodies), daemon=True
        )
        builder.start()
        inserted, request_s = 0, 0.0
        t0 = time.perf_counter()
        while (item := bodies.get()) is not None:
            count, raw = item
            t = time.perf_counter()
            status, body = conn.send(raw)
            request_s += time.perf_counter() - t
            if status != 201:
                raise HttpError(f"batch insert: {status} {body[:300]!r}")
            inserted += count
        elapsed = time.perf_counter() - t0
        rss["stored"] = server.rss_mb()
        from bench.references import bare_insert  # the bench's tasky: same schema and rows

        reference = bare_insert(work / "scale-ref.db", n, batch, tomorrow, step)
        counts = stats(conn)
        if counts["scheduled"] != n:
            raise AssertionError(f"scale: {counts['scheduled']} scheduled, expected {n}")
        lists = {name: list_latency(conn, path, list_gets) for name, path in LIST_PATHS.items()}
        rss["after_lists"] = server.rss_mb()
        from bench import dashboard  # it reads this module's percentile

        dash = dashboard.measure(server.port, list_gets)
        rounds = []
        for _ in range(lateness_rounds):  # as figure 1 does, so the two compare
            rounds.append(lateness_round(server, conn, lateness_n, spread, lead, cap))
            if rounds[-1]["not_started"]:
                break
        late = median_rounds(rounds)
        rss["after_lateness"] = server.rss_mb()
        return {
            "tasks": n,
            "insert_per_s": n / elapsed,
            "insert_seconds": elapsed,
            "insert_server_per_s": n / request_s,
            "bare_insert_per_s": reference["rows_per_s"],
            "batch": batch,
            "rss": rss,
            "rss_mb": max(rss.values()),
            "lists": lists,
            "list_ms": max(v["median_ms"] for v in lists.values()),
            "lateness": late,
            "dashboard": dash,
            "db_mb": sum(f.stat().st_size for f in server.data.glob("tasks.db*")) / (1024 * 1024),
        }


# -- 6. schedule ticks -------------------------------------------------------------------------


def schedule_runs(conn: Conn, schedule_id: str) -> list[dict]:
    """Every run (task) of a schedule, following ``next_cursor``."""
    runs: list[dict] = []
    cursor = None
    while True:
        path = f"/tasky/v1/tasks/?schedule_id={quote(schedule_id)}&limit=1000"
        if cursor:
            path += f"&cursor={quote(cursor)}"
        page = conn.get(path)
        runs += page["tasks"]
        cursor = page.get("next_cursor")
        if not cursor:
            return runs


def interval_ticks(start_at: float, end_at: float, interval: float) -> list[float]:
    """The ticks of an interval schedule, as ``tasky.triggers.IntervalTrigger`` counts them:
    ``start_at + k * interval`` up to and including ``end_at``."""
    ticks, k = [], 0
    while (at := start_at + k * interval) <= end_at:
        ticks.append(at)
        k += 1
    return ticks


def ticks_round(
    server: Server, conn: Conn, n: int, interval: float, lead: float, cap: float
) -> dict:
    """An ``interval`` schedule of the no-op worker (``overlap: allow``) whose ``start_at`` is
    ``lead`` seconds from now and whose ``end_at`` leaves it ``n`` ticks (half an interval
    after the last, so rounding cannot add or drop one). The client stays quiet until
    ``end_at``, then waits for every run to start and complete (at most ``cap`` seconds more).

    Lateness of a run = recorded start of ``perform`` minus the run's ``execute_at`` (its
    tick). Also: runs fired vs ticks expected, ``duplicates`` (runs sharing an
    ``execute_at``), ``off_grid`` (runs whose ``execute_at`` is no tick: a misfire catch-up),
    and ``fire_lag`` (the run's ``created_at`` minus its tick: the scheduler's share)."""
    start_at = round(time.time() + lead, 3)
    end_at = start_at + (n - 0.5) * interval
    answer = conn.post(
        f"/tasky/v1/workers/{NOOP}",
        {
            "interval": interval,
            "overlap": "allow",
            "start_at": iso(start_at),
            "end_at": iso(end_at),
        },
    )
    created = time.time()
    if created > start_at - 0.1:
        raise RuntimeError(
            f"creating the schedule took until {created - start_at:+.2f} s of "
            f"its start_at: raise the lead"
        )
    schedule_id = answer["schedule_id"]
    schedule = conn.get(f"/tasky/v1/schedules/{schedule_id}")
    stored_start, stored_end = parse_iso(schedule["start_at"]), parse_iso(schedule["end_at"])
    if abs(stored_start - start_at) > 2e-6 or parse_iso(answer["next_run_at"]) != stored_start:
        raise AssertionError(
            f"schedule {schedule_id}: stored start_at {schedule['start_at']}, "
            f"next_run_at {answer['next_run_at']}; submitted {iso(start_at)}"
        )
    expected = interval_ticks(stored_start, stored_end, schedule["interval"])
    if len(expected) != n:
        raise AssertionError(f"{len(expected)} ticks between start_at and end_at, meant {n}")

    data = str(server.data)
    time.sleep(max(0.0, end_at - time.time()))  # no request while the ticks fire
    deadline = end_at + cap
    while True:
        schedule = conn.get(f"/tasky/v1/schedules/{schedule_id}")
        runs = schedule_runs(conn, schedule_id)
        starts = read_starts(data)
        done = (
            schedule["next_run_at"] is None
            and len(runs) >= n
            and all(r["status"] == "completed" and r["task_id"] in starts for r in runs)
        )
        if done or time.time() > deadline:
            break
        time.sleep(0.05)
    now = time.time()
    failed = [r for r in runs if r["status"] in ("failed", "canceled")]
    if failed:
        raise AssertionError(f"ticks: {len(failed)} runs {failed[0]['status']}: {failed[0]}")
    dues = {r["task_id"]: parse_iso(r["execute_at"]) for r in runs}
    late_ms = [(starts.get(i, now) - due) * 1000 for i, due in dues.items()]
    fire_ms = [(parse_iso(r["created_at"]) - dues[r["task_id"]]) * 1000 for r in runs]
    result = (
        summary_ms(late_ms)
        if late_ms
        else {"p50_ms": None, "p99_ms": None, "max_ms": None, "min_ms": None, "n": 0}
    )

    def off_grid(due: float) -> bool:  # within 0.1 ms of a tick: that tick (ISO keeps µs)
        k = round((due - stored_start) / schedule["interval"])
        return not 0 <= k < len(expected) or abs(due - expected[k]) > 1e-4

    result.update(
        runs=len(runs),
        expected=len(expected),
        duplicates=len(runs) - len({r["execute_at"] for r in runs}),
        off_grid=sum(1 for d in dues.values() if off_grid(d)),
        not_started=sum(1 for i in dues if i not in starts),
        unfinished=schedule["next_run_at"] is not None,
        fire_lag_p50_ms=percentile(fire_ms, 50) if fire_ms else None,
        fire_lag_p99_ms=percentile(fire_ms, 99) if fire_ms else None,
        interval=schedule["interval"],
        schedule_runs=schedule["runs"],
    )
    return result


def fig_ticks(root: Path, work: Path, *, n: int, interval: float, lead: float, cap: float) -> dict:
    """Figure 6: how late an ``interval`` schedule's ticks start their task, and whether each
    tick between ``start_at`` and ``end_at`` fired exactly once. (A ``cron`` schedule ticks
    once a minute at best: too slow to measure here; both fire through the same path.)"""
    with Server.tasky(root, work / "ticks") as server:
        conn = server.conn()
        ticks_round(server, conn, 5, interval, 0.3, cap)  # warm-up, not counted
        result = ticks_round(server, conn, n, interval, lead, cap)
        result["rss_mb"] = server.rss_mb()
    return result


# -- the targets of these figures ----------------------------------------------------------------

LATENESS_EXCESS_MS = 0.5
LATENESS_MAX_MS = 5.0
SCALE_RATIO = 0.5
SCALE_RSS_MB = 150.0


def late_p99(figure: str, late: dict, floor: dict, number: int = 1) -> Target:
    """Target 1's rule for a lateness p99: at most the bare ``Event.wait`` p99 of the run
    plus half a ms."""
    return Target(
        number,
        figure,
        late.get("p99_ms"),
        floor.get("p99_ms"),
        "bare Event.wait p99",
        LATENESS_EXCESS_MS,
        at_most=True,
        kind="excess",
        unit=" ms",
        note="a lower bound" if late.get("not_started") else "",
    )


def targets(measured: dict[str, dict]) -> list[Target]:
    """Target 1 (timer lateness against the bare ``Event.wait``, also with a million tasks
    waiting) and target 5 (the scale insert against a bare ``executemany``; its RSS)."""
    late = measured.get("lateness", {})
    floor = late.get("floor", {})
    scale = measured.get("scale", {})
    count = f"{scale['tasks']:,} " if "tasks" in scale else ""
    return [
        late_p99("timer lateness p99, SQLite", late, floor),
        Target(
            1,
            "timer lateness max",
            late.get("max_ms"),
            None,
            "",
            LATENESS_MAX_MS,
            at_most=True,
            kind="value",
            unit=" ms",
        ),
        late_p99("timer lateness p99 while the scale tasks wait", scale.get("lateness", {}), floor),
        Target(
            5,
            f"batch insert of {count}future tasks, tasks/s",
            scale.get("insert_per_s"),
            scale.get("bare_insert_per_s"),
            "bare SQLite executemany",
            SCALE_RATIO,
            at_most=False,
        ),
        Target(
            5,
            "RSS of all server processes with them stored",
            scale.get("rss_mb"),
            None,
            "",
            SCALE_RSS_MB,
            at_most=True,
            kind="value",
            unit=" MB",
        ),
    ]
