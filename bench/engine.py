"""The engine's figures: what a slot costs beyond its task's body, and timer lateness with few
slots, with and without a million tasks waiting. ``python -m bench.engine [--quick | --smoke]``
runs them alone; ``bench.run`` runs them as its ``engine`` figure.

Slot cost: a Runner in a process of its own (the tree under test on its path), over a fresh
SQLite file, runs ``n`` due-now tasks of one worker with ``slots`` slots. Its ``perform`` is
the body: nothing (an in-memory body), or ``time.sleep`` of 0.2 ms (an I/O call, such as a
Redis command: it lets go of the GIL), timed inside ``perform``. A slot's time per task is
``slots * wall / n``, ``wall`` running from the runner's start to the last body's end; the
overhead is that minus the mean body of the same run. Beside it, the time a slot is held:
from the slot taking the task (``Executor.start``, or for a task queued in the runner its
thread taking it) to the slot being free again or handed to the next queued task (the end of
``Executor._run``), the mean over the tasks, minus the mean body; the rest of a slot's time
it waits for its next task.

Timer lateness: figure 1 of ``bench.run`` (1000 tasks due over 1 s, one batch) on a server
whose no-op worker has 4, then 8, slots; then on a server whose store holds 1,000,000 tasks
due tomorrow (written into its SQLite file before it starts), beside the bare ``Event.wait``
of the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures
from bench.figures import late_p99
from bench.server import Server, clean_env
from bench.targets import Target, render

ROOT = Path(__file__).resolve().parents[1]
IO_BODY = 0.0002
"""Seconds of the sleeping body: about a Redis command on loopback."""
SLOT_TARGET_MS = 0.3
WAITING_N = 1_000_000


# -- slot cost, in the child process ----------------------------------------------------------


def slot_child(slots: int, body: float, n: int) -> dict:
    """One measurement, in this process: the tree on ``sys.path`` is the one measured."""
    from tasky.config import Settings
    from tasky.ids import new_ids
    from tasky.models import NewTask
    from tasky.registry import Registry
    from tasky.runner.executor import Executor
    from tasky.runner.runner import Runner
    from tasky.stores.sqlite import SQLiteStore
    from tasky.worker import Worker

    done = threading.Event()
    bodies: list[float] = []
    ends: list[float] = []
    held: list[float] = []
    taken: dict[str, float] = {}
    start_one, run_one = Executor.start, Executor._run

    def timed_start(executor, task):
        t = time.perf_counter()
        start_one(executor, task)
        queued = getattr(executor, "_queued", {}).get(task.worker, ())
        if all(run.task.id != task.id for run in list(queued)):
            taken[task.id] = t  # a slot took it here; a queued one, when its thread runs it

    def timed_run(executor, run):
        t = time.perf_counter()
        try:
            return run_one(executor, run)
        finally:
            held.append(time.perf_counter() - min(taken.pop(run.task.id, t), t))

    Executor.start, Executor._run = timed_start, timed_run  # this process only measures

    class Body(Worker):
        name = "slotbody"
        max_num_tasks = slots

        def perform(self, config, ctx):
            t = time.perf_counter()
            if body:
                time.sleep(body)
            end = time.perf_counter()
            bodies.append(end - t)  # list.append: atomic under the GIL
            ends.append(end)
            if len(ends) >= n:
                done.set()

    with tempfile.TemporaryDirectory(prefix="tasky-slots-") as scratch:
        path = f"{scratch}/tasks.db"
        settings = Settings(database_url=f"sqlite:///{path}")
        store = SQLiteStore(path)
        runner = Runner(settings, store, Registry(settings, [Body]))
        now = time.time()
        store.create_tasks([NewTask(i, Body.name, {}, now, now) for i in new_ids(now, n)])
        cpu0, t0 = time.process_time(), time.perf_counter()
        runner.start()
        finished = done.wait(120)
        cpu = time.process_time() - cpu0
        wall = max(ends) - t0 if ends else float("nan")
        runner.stop()
    if not finished:
        raise RuntimeError(f"only {len(ends)} of {n} tasks ran within 120 s")
    body_ms = statistics.fmean(bodies) * 1000
    slot_ms = slots * wall / n * 1000
    return {
        "slots": slots,
        "n": n,
        "tasks_per_s": n / wall,
        "slot_ms": slot_ms,
        "body_ms": body_ms,
        "overhead_ms": slot_ms - body_ms,
        "held_beyond_ms": statistics.fmean(held) * 1000 - body_ms,
        "cpu_us_per_task": cpu / n * 1e6,
    }


def slot_round(root: Path, slots: int, body: float, n: int) -> dict:
    """``slot_child`` in a fresh interpreter that imports the tree under test."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.engine", "--slot-child", str(slots), str(body), str(n)],
        cwd=root,
        env=clean_env(root=root),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"slot measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(rounds: list[dict]) -> dict:
    keys = ("tasks_per_s", "slot_ms", "body_ms", "overhead_ms", "held_beyond_ms", "cpu_us_per_task")
    return {  # a tree measured by an older child has no held time
        **{k: statistics.median(r[k] for r in rounds) for k in keys if k in rounds[0]},
        "slots": rounds[0]["slots"],
        "rounds": rounds,
    }


def fig_slots(root: Path, *, n: int, rounds: int, slots: int = 4) -> dict:
    """Rounds alternate the two bodies, so that both see the same machine."""
    runs: dict[str, list[dict]] = {"memory": [], "io": []}
    for _ in range(rounds):
        runs["memory"].append(slot_round(root, slots, 0.0, n))
        runs["io"].append(slot_round(root, slots, IO_BODY, n))
    return {name: median_of(found) for name, found in runs.items()}


# -- timer lateness on a server -----------------------------------------------------------------


def _lateness(server: Server, *, n: int, spread: float, lead: float, rounds: int, cap: float):
    conn = server.conn()
    figures.lateness_round(server, conn, min(n, 50), 0.05, 0.3, cap)  # warm-up, not counted
    found = []
    for _ in range(rounds):
        found.append(figures.lateness_round(server, conn, n, spread, lead, cap))
        if found[-1]["not_started"]:
            break
    return figures.median_rounds(found)


def _store_waiting(data: Path, count: int) -> float:
    """``count`` tasks of the no-op worker due tomorrow, written into the server's SQLite file
    before it starts; the seconds it took."""
    from tasky.ids import new_ids
    from tasky.models import NewTask
    from tasky.stores.sqlite import SQLiteStore

    data.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(str(data / "tasks.db"))
    t0 = time.perf_counter()
    tomorrow = time.time() + 86400
    batch = 50_000
    for first in range(0, count, batch):
        size = min(batch, count - first)
        ids = new_ids(tomorrow, size)
        store.create_tasks(
            [
                NewTask(task_id, figures.NOOP, {}, tomorrow + (first + k) * 0.0036, time.time())
                for k, task_id in enumerate(ids)
            ]
        )
    store.close()
    return time.perf_counter() - t0


def fig_timer(
    root: Path,
    work: Path,
    *,
    n: int,
    spread: float,
    lead: float,
    rounds: int,
    cap: float,
    waiting: int,
) -> dict:
    out: dict = {}
    for slots in (4, 8):
        env = {"TASKY_BENCH_SLOTS": str(slots)}
        with Server.tasky(root, work / f"timer-{slots}", env=env) as server:
            out[f"slots_{slots}"] = _lateness(
                server, n=n, spread=spread, lead=lead, rounds=rounds, cap=cap
            )
    data = work / "timer-waiting"
    out["waiting_insert_s"] = _store_waiting(data, waiting)
    out["waiting"] = waiting
    with Server.tasky(root, data, env={"TASKY_BENCH_SLOTS": "4"}) as server:
        out["slots_4_waiting"] = _lateness(
            server, n=n, spread=spread, lead=lead, rounds=rounds, cap=cap
        )
    out["floor"] = figures.median_rounds([figures.timer_floor(n, spread) for _ in range(rounds)])
    return out


# -- the figure, its keys and its table ---------------------------------------------------------


def fig_engine(root: Path, work: Path, *, mode: str) -> dict:
    small = mode != "full"
    slots = fig_slots(root, n=300 if mode == "smoke" else 2000, rounds=1 if mode == "smoke" else 3)
    timer = fig_timer(
        root,
        work,
        n=50 if mode == "smoke" else 1000,
        spread=0.1 if mode == "smoke" else 1.0,
        lead=0.5 if mode == "smoke" else 1.5,
        rounds=1 if mode == "smoke" else 3,
        cap=5.0 if small else 60.0,
        waiting=1000 if mode == "smoke" else 20_000 if small else WAITING_N,
    )
    return {"slots": slots, "timer": timer}


TIMER_RUNS = ("slots_4", "slots_8", "slots_4_waiting")
KEYS = (
    "slot_overhead_ms",
    "slot_body_ms",
    "slot_overhead_io_ms",
    "slot_body_io_ms",
    "slot_overhead_target_ms",
    "slot_held_beyond_ms",
    "slot_held_beyond_io_ms",
    "timer_floor_p50_ms",
    "timer_floor_p99_ms",
    *(f"timer_{name}_{stat}" for name in TIMER_RUNS for stat in ("p50_ms", "p99_ms", "max_ms")),
)


def results(m: dict) -> dict:
    """The engine's keys for ``bench/results/latest.json``, each beside its reference (None
    when the figure did not run)."""
    if not m:
        return dict.fromkeys(KEYS)
    slots, timer = m["slots"], m["timer"]
    floor = timer["floor"]
    out = {
        "slot_overhead_ms": slots["memory"]["overhead_ms"],
        "slot_body_ms": slots["memory"]["body_ms"],
        "slot_overhead_io_ms": slots["io"]["overhead_ms"],
        "slot_body_io_ms": slots["io"]["body_ms"],
        "slot_overhead_target_ms": SLOT_TARGET_MS,
        "slot_held_beyond_ms": slots["memory"].get("held_beyond_ms"),
        "slot_held_beyond_io_ms": slots["io"].get("held_beyond_ms"),
        "timer_floor_p50_ms": floor["p50_ms"],
        "timer_floor_p99_ms": floor["p99_ms"],
    }
    for name in TIMER_RUNS:
        for stat in ("p50_ms", "p99_ms", "max_ms"):
            out[f"timer_{name}_{stat}"] = timer[name][stat]
    assert tuple(out) == KEYS
    return out


def targets(measured: dict[str, dict]) -> list[Target]:
    """Target 3: a slot's own time per task beyond its body, and the timer lateness with the
    peers' 4 slots (and 8), beside the bare ``Event.wait`` of the same run (target 1's rule)."""
    m = measured.get("engine", {})
    why = "the engine figure did not run"
    slots, timer = m.get("slots", {}), m.get("timer", {})
    floor = timer.get("floor", {})
    found = [
        Target(
            3,
            f"{measure}, 4 slots, {label}",
            slots[name].get(key) if name in slots else None,
            None,
            "",
            SLOT_TARGET_MS,
            at_most=True,
            kind="value",
            unit=" ms",
            note="" if name in slots else why,
        )
        for key, measure in (
            ("overhead_ms", "slot time beyond the body"),
            ("held_beyond_ms", "slot held beyond the body (take to free)"),
        )
        for name, label in (("memory", "in-memory body"), ("io", "0.2 ms sleeping body"))
    ]
    for name, label in (("slots_4", "4 slots"), ("slots_8", "8 slots")):
        target = late_p99(f"timer lateness p99, {label}", timer.get(name, {}), floor, number=3)
        found.append(target if name in timer else replace(target, note=why))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument(
        "--slot-child", nargs=3, metavar=("SLOTS", "BODY", "N"), help=argparse.SUPPRESS
    )
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--only", choices=("slots", "timer"))
    args = parser.parse_args(argv)
    if args.slot_child:
        slots, body, n = args.slot_child
        print(json.dumps(slot_child(int(slots), float(body), int(n))))
        return 0
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    with tempfile.TemporaryDirectory(prefix="tasky-engine-") as work:
        if args.only == "slots":
            for name, s in fig_slots(args.root.resolve(), n=2000, rounds=3).items():
                print(name, json.dumps({k: v for k, v in s.items() if k != "rounds"}))
            return 0
        measured = fig_engine(args.root.resolve(), Path(work), mode=mode_name)
    print(render(targets({"engine": measured})))
    print(json.dumps(results(measured), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
