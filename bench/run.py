"""Tasky's benchmark: ``python -m bench.run [--quick | --smoke]``.

Starts the real service with gunicorn on loopback (default configuration: gunicorn.conf.py
as shipped, one process, default ``TASKY_*``), drives it over HTTP, prints a table of
the figures beside their targets and the references measured in the same run,
and writes them to ``bench/results/latest.json``.

``--quick`` (``make bench-quick``) is the same with small sizes, under a minute; ``--smoke``
is tinier still, for the test suite (it proves the harness runs, not that a target is met).
PostgreSQL figures run when ``TASKY_BENCH_PG_URL`` names a database server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import runpy
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import backup, engine, figures, noop_worker, pg, submit
from bench.pg import notes as pg_notes
from bench.targets import Target, collect, not_measured, render

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
PG_ENV = "TASKY_BENCH_PG_URL"

KEYS = (
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
    *pg.KEYS,
    *engine.KEYS,
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
    "submit_c1_wrk_bare_p50_ms",
    "submit_c1_wrk_bare_p99_ms",
    "submit_c1_wrk_later_p50_ms",
    "submit_c1_wrk_later_p99_ms",
    "submit_c1_wrk_now_p50_ms",
    "submit_c1_wrk_now_p99_ms",
    "submit_c1_session_bare_p50_ms",
    "submit_c1_session_bare_p99_ms",
    "submit_c1_session_later_p50_ms",
    "submit_c1_session_later_p99_ms",
    "submit_c1_session_now_p50_ms",
    "submit_c1_session_now_p99_ms",
    "scale_bare_insert_per_s",
    "scale_insert_ratio",
    "targets",
)
"""The keys of ``latest.json`` besides ``machine``. ``targets``: each target of the
performance issue with its figure, its in-run reference, its score and whether it is met
(``bench.targets.Target.as_json``)."""


@dataclass(frozen=True)
class Sizes:
    mode: str
    lateness_n: int = 1000  # target 1: 1000 tasks ...
    lateness_spread: float = 1.0  # ... due at times spread over 1 s
    lateness_lead: float = 1.5  # seconds between submit and the first due time
    lateness_rounds: int = 3
    lateness_cap: float = 60.0  # seconds after the last due time; later = lower bound
    e2e_n: int = 10_000
    e2e_rounds: int = 3
    e2e_cap: float = 120.0  # seconds per round; slower = an estimate
    submit_seconds: float = 5.0
    submit_warmup: float = 2.0
    submit_rounds: int = 3
    submit_concurrency: int = 8
    scale_n: int = 1_000_000
    scale_batch: int = 10_000
    list_gets: int = 200
    pg_e2e_n: int = 10_000
    pg_naive_n: int = 10_000
    pg_rounds: int = 3
    ticks_n: int = 200  # ticks of one interval schedule ...
    ticks_interval: float = 0.05  # ... this many seconds apart
    ticks_lead: float = 1.0  # seconds between creating it and its start_at
    ticks_cap: float = 30.0  # seconds after end_at; later = lower bound
    backup_n: int = 1_000_000  # tasks exported and imported
    backup_rounds: int = 3
    latency_rounds: int = 3  # target 2: one connection, sequential
    latency_wrk_seconds: int = 5
    latency_session_count: int = 2000


FULL = Sizes("full")
QUICK = Sizes(
    "quick",
    lateness_rounds=1,
    lateness_cap=8.0,
    e2e_n=1000,
    e2e_rounds=3,
    e2e_cap=10.0,
    submit_seconds=1.5,
    submit_warmup=0.5,
    scale_n=20_000,
    backup_n=20_000,
    latency_wrk_seconds=2,
    latency_session_count=500,
    list_gets=50,
    pg_e2e_n=1000,
    pg_naive_n=2000,
    pg_rounds=1,
    ticks_n=100,
    ticks_cap=10.0,
)
SMOKE = Sizes(
    "smoke",
    lateness_n=50,
    lateness_spread=0.1,
    lateness_lead=0.5,
    lateness_rounds=1,
    lateness_cap=5.0,
    e2e_n=100,
    e2e_rounds=1,
    e2e_cap=10.0,
    submit_seconds=0.3,
    submit_warmup=0.1,
    submit_rounds=1,
    submit_concurrency=4,
    scale_n=1000,
    scale_batch=500,
    backup_n=1000,
    backup_rounds=1,
    latency_rounds=1,
    latency_wrk_seconds=1,
    latency_session_count=30,
    list_gets=5,
    pg_e2e_n=100,
    pg_naive_n=100,
    pg_rounds=1,
    ticks_n=10,
    ticks_lead=0.5,
    ticks_cap=5.0,
)

FIGURES = (
    "lateness",
    "ticks",
    "e2e",
    "submit",
    "submit_latency",
    "scale",
    "pg",
    "backup",
    "engine",
)


def _pg_targets(m: dict[str, dict]) -> list[Target]:
    """Target 6: PostgreSQL with two servers against the naive claim loop, and the scaling
    with runner-only processes."""
    pg = m.get("pg", {})
    return [
        Target(
            6,
            "PostgreSQL end-to-end, 2 servers, tasks/s",
            pg.get("e2e_tasks_per_s"),
            pg.get("naive_claims_per_s"),
            "naive SKIP LOCKED loop",
            2.5,
            at_most=False,
            note=pg.get("skipped", ""),
        ),
        *_runner_scaling(pg),
    ]


def _runner_scaling(figure: dict) -> list[Target]:
    """Target 6's second half: each runner added (an API-only server and 1, 2, 3 headless
    runners on one database) raises the throughput over one runner fewer, same run."""
    rates = {count: r.get("tasks_per_s") for count, r in figure.get("runners", {}).items()}
    return [
        Target(
            6,
            f"PostgreSQL, API-only + {count} runners, tasks/s",
            rates.get(count),
            rates.get(count - 1),
            f"{count - 1} runner{'s' if count > 2 else ''}",
            1.0,
            at_most=False,
            note=figure.get("runners_error") or figure.get("skipped", ""),
        )
        for count in pg.RUNNER_COUNTS[1:]
    ]


def _peers_targets(m: dict[str, dict]) -> list[Target]:
    """Target 4 is measured by the peers' harness, beside this benchmark; its figures come
    here once a module reads them."""
    why = "the peers' harness (run_side.sh) reports it"
    return [
        not_measured(4, "end-to-end, batch submit / best durable peer", why, 2.0, False),
        not_measured(4, "one POST per task / bare_post of the same client", why, 0.8, False),
    ]


TARGET_SOURCES = [figures.targets, engine.targets, submit.targets, _peers_targets, _pg_targets]
"""Each a function of the measured figures giving its ``Target`` entries (bench.targets).
A figure module adds its own here, beside its step in ``main``."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"where to write the JSON (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the Tasky tree to start (default: this repository)"
    )
    parser.add_argument(
        "--only", action="append", choices=FIGURES, help="run only this figure (repeatable)"
    )
    parser.add_argument("--scale-n", type=int, help="tasks of the scale figure")
    parser.add_argument("--e2e-n", type=int, help="tasks per end-to-end round")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(PG_ENV),
        help=f"PostgreSQL server for the pg figures (default ${PG_ENV})",
    )
    parser.add_argument(
        "--pg-local",
        action="store_true",
        help=f"run the pg figures on a throwaway local PostgreSQL server (also: {PG_ENV}=local)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="start the servers from --root itself rather than from a copy "
        "taken at start (edits made during the run then leak into it)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch directory (server logs, SQLite files)"
    )
    args = parser.parse_args(argv)
    if args.pg_url == "local":
        args.pg_url, args.pg_local = None, True

    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.scale_n:
        sizes = replace(sizes, scale_n=args.scale_n)
    if args.e2e_n:
        sizes = replace(sizes, e2e_n=args.e2e_n)
    wanted = set(args.only or FIGURES)
    root = args.root.resolve()

    work = Path(tempfile.mkdtemp(prefix="tasky-bench-"))
    started = time.time()
    load_before = os.getloadavg()[0]
    measured: dict[str, dict] = {}
    failures: dict[str, str] = {}
    revision = _revision(root)
    print(f"Tasky benchmark ({sizes.mode}) of {root} [{revision}]; scratch {work}", flush=True)
    tree = root if args.live else snapshot(root, work / "tree")
    root = tree
    shape = server_shape(root)
    steps = [
        (
            "lateness",
            lambda: figures.fig_lateness(
                root,
                work,
                n=sizes.lateness_n,
                spread=sizes.lateness_spread,
                rounds=sizes.lateness_rounds,
                lead=sizes.lateness_lead,
                cap=sizes.lateness_cap,
            ),
        ),
        (
            "ticks",
            lambda: figures.fig_ticks(
                root,
                work,
                n=sizes.ticks_n,
                interval=sizes.ticks_interval,
                lead=sizes.ticks_lead,
                cap=sizes.ticks_cap,
            ),
        ),
        (
            "e2e",
            lambda: figures.fig_e2e(
                root, work, n=sizes.e2e_n, rounds=sizes.e2e_rounds, cap=sizes.e2e_cap
            ),
        ),
        (
            "submit",
            lambda: figures.fig_submit(
                root,
                work,
                seconds=sizes.submit_seconds,
                rounds=sizes.submit_rounds,
                warmup=sizes.submit_warmup,
                concurrency=sizes.submit_concurrency,
            ),
        ),
        (
            "scale",
            lambda: figures.fig_scale(
                root,
                work,
                n=sizes.scale_n,
                batch=sizes.scale_batch,
                list_gets=sizes.list_gets,
                lateness_n=sizes.lateness_n,
                spread=sizes.lateness_spread,
                lead=sizes.lateness_lead,
                cap=sizes.lateness_cap,
                lateness_rounds=sizes.lateness_rounds,
            ),
        ),
        (
            "submit_latency",
            lambda: submit.fig_submit_latency(
                root,
                work,
                rounds=sizes.latency_rounds,
                wrk_seconds=sizes.latency_wrk_seconds,
                session_count=sizes.latency_session_count,
            ),
        ),
        ("pg", lambda: _pg(root, work, sizes, args.pg_url, args.pg_local)),
        (
            "backup",
            lambda: backup.fig_backup(root, work, n=sizes.backup_n, rounds=sizes.backup_rounds),
        ),
        ("engine", lambda: engine.fig_engine(root, work, mode=sizes.mode)),
    ]
    for name, step in steps:
        if name not in wanted:
            continue
        t = time.time()
        print(f"  {name} ...", end="", flush=True)
        try:
            measured[name] = step()
            print(f" {time.time() - t:.1f} s", flush=True)
        except Exception as exc:
            failures[name] = f"{type(exc).__name__}: {exc}"
            print(f" FAILED after {time.time() - t:.1f} s", flush=True)
            traceback.print_exc()
    measured["recording"] = _recording_cost(work)
    measured["load"] = {"before": load_before, "after": os.getloadavg()[0]}

    found = collect(TARGET_SOURCES, measured)
    results = _results(measured, found)
    results["machine"] = _machine(revision, shape, sizes, started, measured, failures, args)
    print()
    print(render_table(results, measured, sizes, failures))
    print()
    print("Targets, each against its reference measured in this run:")
    print(render(found))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if args.keep:
        print(f"kept {work}")
    else:
        _remove(work)
    return 1 if failures else 0


def _pg(root: Path, work: Path, sizes: Sizes, url: str | None, local: bool) -> dict:
    if not url and not local:
        return {"skipped": "no PostgreSQL"}

    def run(server_url: str) -> dict:
        return pg.fig_pg(
            root,
            work,
            server_url,
            e2e_n=sizes.pg_e2e_n,
            naive_n=sizes.pg_naive_n,
            rounds=sizes.pg_rounds,
            cap=sizes.e2e_cap,
        )

    if url:
        return run(url)
    with pg.local_server() as local_url:
        return run(local_url)


def _recording_cost(work: Path) -> dict:
    """What the no-op worker's recording costs a task (``record``: a deque append), and what
    its flusher thread pays per record to write them out."""
    recorder = noop_worker.StartRecorder(str(work))
    recorder.record("warm", time.time())
    recorder.flush()
    n = 20_000
    task_id = "0123456789abcdef0123456789abcdef"
    t = time.perf_counter()
    for _ in range(n):
        recorder.record(task_id, time.time())
    per_us = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    recorder.flush()
    flush_us = (time.perf_counter() - t) / n * 1e6
    for f in work.glob("starts-*.txt"):
        f.unlink()
    return {"per_task_us": per_us, "flush_per_task_us": flush_us}


def _ready_ms(m: dict[str, dict]) -> float | None:
    """The slower page's median time to show its data, where a browser ran."""
    ready = m.get("scale", {}).get("dashboard", {}).get("ready")
    return max(v["median_ms"] for v in ready.values()) if ready else None


def _results(m: dict[str, dict], found: list[Target]) -> dict:
    def get(figure: str, *path: str):
        value = m.get(figure)
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    out = {
        "lateness_p50_ms": get("lateness", "p50_ms"),
        "lateness_p99_ms": get("lateness", "p99_ms"),
        "e2e_tasks_per_s": get("e2e", "tasks_per_s"),
        "submit_rps": get("submit", "submit_rps"),
        "flask_post_rps": get("submit", "flask_post_rps"),
        "submit_ratio": get("submit", "ratio"),
        "scale_tasks": get("scale", "tasks"),
        "scale_insert_per_s": get("scale", "insert_per_s"),
        "scale_rss_mb": get("scale", "rss_mb"),
        "scale_lateness_p99_ms": get("scale", "lateness", "p99_ms"),
        "list_ms": get("scale", "list_ms"),
        "dashboard_server_ms": get("scale", "dashboard", "server_ms"),
        "dashboard_ready_ms": _ready_ms(m),
        "pg_e2e_tasks_per_s": get("pg", "e2e_tasks_per_s"),
        "pg_naive_claims_per_s": get("pg", "naive_claims_per_s"),
        **pg.results(m.get("pg", {})),
        **engine.results(m.get("engine", {})),
        "tick_lateness_p50_ms": get("ticks", "p50_ms"),
        "tick_lateness_p99_ms": get("ticks", "p99_ms"),
        "tick_runs": get("ticks", "runs"),
        "tick_expected": get("ticks", "expected"),
        "export_rows_per_s": get("backup", "export_rows_per_s"),
        "export_ref_rows_per_s": get("backup", "export_ref_rows_per_s"),
        "export_rss_growth_mb": get("backup", "export_rss_growth_mb"),
        "import_rows_per_s": get("backup", "import_rows_per_s"),
        "import_ref_rows_per_s": get("backup", "import_ref_rows_per_s"),
        "export_submit_ratio": (
            m["backup"]["submit_rps_exporting"] / m["backup"]["submit_rps"]
            if "backup" in m
            else None
        ),
    }
    for tool in ("wrk", "session"):
        for case in ("bare", "later", "now"):
            for pct in ("p50_ms", "p99_ms"):
                out[f"submit_c1_{tool}_{case}_{pct}"] = get("submit_latency", tool, case, pct)
    out["scale_bare_insert_per_s"] = get("scale", "bare_insert_per_s")
    insert, bare = out["scale_insert_per_s"], out["scale_bare_insert_per_s"]
    out["scale_insert_ratio"] = insert / bare if insert and bare else None
    out["targets"] = [t.as_json() for t in found]
    assert tuple(out) == KEYS
    return out


SNAPSHOT_SKIP_TOP = {".git", ".venv", "venv", "data"}
SNAPSHOT_SKIP_ANY = {"__pycache__", ".pytest_cache"}


def _skipped(relative: Path) -> bool:
    parts = relative.parts
    return (
        not parts
        or parts[0] in SNAPSHOT_SKIP_TOP
        or bool(SNAPSHOT_SKIP_ANY & set(parts))
        or parts[:2] == ("bench", "results")
    )


def snapshot(root: Path, dest: Path) -> Path:
    """Copy the tree under test (tracked and untracked files, not ignored ones) so that edits
    made while the benchmark runs cannot mix two versions of the code in one run."""
    import shutil

    try:
        listed = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        files = [f for f in listed.decode().split("\0") if f]
    except (OSError, subprocess.SubprocessError):
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    for name in files:
        source = root / name
        if source.is_file() and not _skipped(Path(name)):
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def server_shape(root: Path) -> str:
    """What the tree's gunicorn.conf.py makes of the server, e.g. ``gthread, 1 process x 8
    threads`` (the benchmark clears WEB_CONCURRENCY, so one process unless the file says)."""
    conf = runpy.run_path(str(root / "gunicorn.conf.py"))
    return (
        f"{conf.get('worker_class', 'sync')}, {conf.get('workers', 1)} process x "
        f"{conf.get('threads', 1)} threads"
    )


def _revision(root: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) if rev else "not a git tree"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _machine(
    revision: str, shape: str, sizes: Sizes, started: float, measured: dict, failures: dict, args
) -> dict:
    try:
        import gunicorn

        gunicorn_version = gunicorn.__version__
    except ImportError:
        gunicorn_version = None
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 1),
        "revision": revision,
        "config": {
            "mode": sizes.mode,
            "server": f"python -m gunicorn -b 127.0.0.1:<port> app:app (gunicorn.conf.py: "
            f"{shape}); TASKY_* defaults, fresh SQLite file per figure",
            "server_shape": shape,
            "gunicorn": gunicorn_version,
            "noop_worker": f"{noop_worker.NAME}, max_num_tasks={noop_worker.SLOTS}",
            "recording_us_per_task": round(measured["recording"]["per_task_us"], 2),
            "sizes": asdict(sizes),
            "figures": sorted(k for k in measured if k not in ("recording", "load")),
            "failures": failures,
            "caveats": _caveats(measured),
            "load_average": measured["load"],
            "pg": (
                "local throwaway server, default settings"
                if args.pg_local and not args.pg_url
                else "TASKY_BENCH_PG_URL"
                if args.pg_url
                else "skipped (no PostgreSQL)"
            ),
        },
    }


# -- the table ---------------------------------------------------------------------------------


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _met(value, target: float, at_most: bool) -> str:
    if value is None:
        return "-"
    return "yes" if (value <= target if at_most else value >= target) else "NO"


def _caveats(m: dict) -> dict[str, str]:
    """Keys whose figure is a bound or an estimate, and why."""
    out = {}
    late = m.get("lateness", {})
    if late.get("not_started"):
        why = f"{late['not_started']} tasks not started by the cap: a lower bound"
        out["lateness_p50_ms"] = out["lateness_p99_ms"] = why
    if m.get("e2e", {}).get("capped"):
        out["e2e_tasks_per_s"] = (
            "a round hit its time cap: an estimate (tasks completed by then / elapsed)"
        )
    sc_late = m.get("scale", {}).get("lateness", {})
    if sc_late.get("not_started"):
        out["scale_lateness_p99_ms"] = (
            f"{sc_late['not_started']} tasks not started by the cap: a lower bound"
        )
    if m.get("pg", {}).get("e2e", {}).get("capped"):
        out["pg_e2e_tasks_per_s"] = (
            "a round hit its time cap: an estimate (tasks completed by then / elapsed)"
        )
    ticks = m.get("ticks", {})
    if ticks.get("not_started"):
        why = f"{ticks['not_started']} runs not started by the cap: a lower bound"
        out["tick_lateness_p50_ms"] = out["tick_lateness_p99_ms"] = why
    if ticks.get("unfinished"):
        out["tick_runs"] = "the schedule still had ticks left at the cap: a lower bound"
    return out


def render_table(r: dict, m: dict, sizes: Sizes, failures: dict) -> str:
    caveats = _caveats(m)

    def val(key: str, unit: str, digits: int = 2) -> str:
        text = _fmt(r[key], digits) + unit
        if key in caveats:
            return (">= " if "lower bound" in caveats[key] else "~") + text
        return text

    def met(key: str, target: float, at_most: bool) -> str:
        verdict = _met(r[key], target, at_most)
        return verdict + ("*" if key in caveats and verdict != "-" else "")

    rows: list[tuple[str, str, str, str, str]] = []
    late, floor = m.get("lateness", {}), m.get("lateness", {}).get("floor", {})
    rounds = f"median of {sizes.lateness_rounds}" if sizes.lateness_rounds > 1 else "1 run"
    rows.append(
        (
            f"1. lateness p50, {sizes.lateness_n} tasks over {sizes.lateness_spread:g} s"
            f" ({rounds})",
            val("lateness_p50_ms", " ms", 3),
            "<= 0.5 ms",
            f"bare Event.wait: {_fmt(floor.get('p50_ms'), 3)} ms",
            met("lateness_p50_ms", 0.5, True),
        )
    )
    rows.append(
        (
            "   lateness p99",
            val("lateness_p99_ms", " ms", 3),
            "<= 1 ms",
            f"bare Event.wait: {_fmt(floor.get('p99_ms'), 3)} ms",
            met("lateness_p99_ms", 1.0, True),
        )
    )
    if late:
        rows.append(
            (
                "   lateness max",
                _fmt(late.get("max_ms"), 3) + " ms",
                "",
                f"bare Event.wait: {_fmt(floor.get('max_ms'), 3)} ms",
                "",
            )
        )
    e2e = m.get("e2e", {})
    rows.append(
        (
            f"2. end-to-end, SQLite ({e2e.get('n', sizes.e2e_n):,} tasks/round, median of "
            f"{len(e2e.get('rounds', [])) or sizes.e2e_rounds})",
            val("e2e_tasks_per_s", " tasks/s"),
            ">= 5,000 tasks/s",
            "",
            met("e2e_tasks_per_s", 5000, False),
        )
    )
    rows.append(
        (
            f"3. POST /workers/echo, {sizes.submit_concurrency} conns (median of "
            f"{sizes.submit_rounds} x {sizes.submit_seconds:g} s)",
            val("submit_rps", " req/s"),
            "",
            f"bare Flask POST: {_fmt(r['flask_post_rps'])} req/s",
            "",
        )
    )
    rows.append(
        (
            "   submit / bare Flask",
            val("submit_ratio", "", 3),
            ">= 0.60",
            "",
            met("submit_ratio", 0.6, False),
        )
    )
    sc = m.get("scale", {})
    rows.append(
        (
            f"4. scale: batch insert of {_fmt(r['scale_tasks'])} tasks due tomorrow",
            val("scale_insert_per_s", " tasks/s"),
            ">= 50,000 tasks/s",
            "",
            met("scale_insert_per_s", 50000, False),
        )
    )
    rss = sc.get("rss", {})
    rows.append(
        (
            "   RSS, all server processes, with them stored",
            val("scale_rss_mb", " MB", 1),
            "<= 150 MB",
            f"idle server: {_fmt(rss.get('idle'), 1)} MB",
            met("scale_rss_mb", 150, True),
        )
    )
    sc_late = sc.get("lateness", {})
    rows.append(
        (
            f"   lateness p99 while they wait ({sizes.lateness_n} tasks, {rounds})",
            val("scale_lateness_p99_ms", " ms", 3),
            "<= 1 ms",
            f"p50 {_fmt(sc_late.get('p50_ms'), 3)} ms",
            met("scale_lateness_p99_ms", 1.0, True),
        )
    )
    lists = sc.get("lists", {})
    for name, label in (
        ("list", "GET /tasks/?limit=100"),
        ("list_status", "GET /tasks/?limit=100&status=scheduled"),
    ):
        got = lists.get(name, {})
        rows.append(
            (
                f"   {label} (median of {got.get('count', sizes.list_gets)})",
                _fmt(got.get("median_ms"), 2) + " ms",
                "<= 20 ms",
                f"p95 {_fmt(got.get('p95_ms'), 2)} ms",
                _met(got.get("median_ms"), 20, True),
            )
        )
    dash = sc.get("dashboard", {})
    server = dash.get("server", {})
    rows.append(
        (
            "   dashboard: overview and tasks pages, server time (Server-Timing, median)",
            val("dashboard_server_ms", " ms", 1),
            "<= 200 ms",
            ", ".join(
                f"{name} {_fmt(server.get(name, {}).get('median_ms'), 1)}"
                for name in (
                    "overview_page",
                    "overview_api",
                    "tasks_page",
                    "tasks_api",
                    "live_feed",
                )
            ),
            met("dashboard_server_ms", 200, True),
        )
    )
    ready = dash.get("ready") or {}
    rows.append(
        (
            "   dashboard: page shows its data (headless chromium, median of 3)",
            val("dashboard_ready_ms", " ms", 0) if ready else "skipped (no chromium)",
            "<= 1000 ms",
            ", ".join(f"{name} {_fmt(v['median_ms'], 0)} ms" for name, v in ready.items()),
            met("dashboard_ready_ms", 1000, True) if ready else "-",
        )
    )
    pg = m.get("pg", {})
    naive = r["pg_naive_claims_per_s"]
    reference = f"naive SKIP LOCKED loop: {_fmt(naive)} claims/s" if naive else ""
    target = f">= {_fmt(2 * naive)} tasks/s (2x naive)" if naive else ">= 2x naive"
    if "pg" in failures or not pg or "skipped" in pg:
        why = pg.get("skipped") or failures.get("pg", "not run")
        rows.append(
            (
                "5. PostgreSQL, 2 servers, one database",
                f"skipped ({why})" if "pg" not in failures else "FAILED (see below)",
                target,
                reference,
                "-",
            )
        )
    elif pg.get("e2e_error"):
        rows.append(
            (
                "5. PostgreSQL end-to-end, 2 servers, one database",
                "no figure (see below)",
                target,
                reference,
                "-",
            )
        )
    else:
        rows.append(
            (
                "5. PostgreSQL end-to-end, 2 servers, one database",
                val("pg_e2e_tasks_per_s", " tasks/s"),
                target,
                reference,
                met("pg_e2e_tasks_per_s", 2 * naive, False),
            )
        )

    ticks = m.get("ticks", {})
    n_ticks = ticks.get("expected", sizes.ticks_n)
    interval = ticks.get("interval", sizes.ticks_interval)
    rows.append(
        (
            f"6. schedule tick lateness p50, interval {interval:g} s, {n_ticks} ticks (1 run)",
            val("tick_lateness_p50_ms", " ms", 3),
            "a few ms",
            f"fire lag p50 {_fmt(ticks.get('fire_lag_p50_ms'), 3)} ms",
            "",
        )
    )
    rows.append(
        (
            "   tick lateness p99",
            val("tick_lateness_p99_ms", " ms", 3),
            "a few ms (<= 5 ms)",
            f"fire lag p99 {_fmt(ticks.get('fire_lag_p99_ms'), 3)} ms",
            met("tick_lateness_p99_ms", 5.0, True),
        )
    )
    if ticks:
        rows.append(("   tick lateness max", _fmt(ticks.get("max_ms"), 3) + " ms", "", "", ""))
    fired = f"{_fmt(r['tick_runs'])} / {_fmt(r['tick_expected'])}" + (
        f", {ticks['duplicates']} duplicates, {ticks['off_grid']} off-grid" if ticks else ""
    )
    exact = (
        None
        if r["tick_runs"] is None
        else r["tick_runs"] == r["tick_expected"]
        and not ticks.get("duplicates")
        and not ticks.get("off_grid")
    )
    rows.append(
        (
            "   ticks fired / expected (start_at..end_at)",
            (">= " if "tick_runs" in caveats else "") + fired,
            "equal, 0 duplicates",
            "",
            "-" if exact is None else "yes" if exact else "NO",
        )
    )

    rows += backup.table_rows(m.get("backup", {}), _fmt, _met)

    headers = ("figure", "measured", "target", "reference (same run)", "met?")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [
        " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    notes = [
        f"config: gunicorn.conf.py as shipped ({r['machine']['config']['server_shape']}), "
        "default TASKY_*, "
        f"fresh SQLite per figure; no-op worker {noop_worker.NAME} "
        f"(max_num_tasks={noop_worker.SLOTS}); client on the same {os.cpu_count()} cores",
        f"recording a start costs the no-op worker {m['recording']['per_task_us']:.2f} us per "
        f"task (clock read before it), plus {m['recording']['flush_per_task_us']:.2f} us on "
        f"its flusher thread",
    ]
    load = m.get("load", {})
    if load:
        notes.append(
            f"load average before the run {load['before']:.2f}, after "
            f"{load['after']:.2f}"
            + (
                "  (WARNING: the machine was busy; figures are noisy)"
                if load["before"] > 0.7
                else ""
            )
        )
    if late.get("rounds"):
        notes.append(
            "lateness rounds (p50/p99/max ms): "
            + "; ".join(
                f"{x['p50_ms']:.3f}/{x['p99_ms']:.3f}/{x['max_ms']:.3f}" for x in late["rounds"]
            )
        )
    if ticks:
        notes.append(
            f"ticks: fire lag = a run's created_at minus its tick (the scheduler's "
            f"share of the lateness); schedule runs counter {ticks['schedule_runs']}; "
            f"cron not measured (one tick a minute)"
        )
    if e2e.get("rounds"):
        notes.append(
            "end-to-end rounds: "
            + "; ".join(
                f"{x['tasks_per_s']:.0f} tasks/s ({x['completed']:,} in {x['seconds']:.2f} s, "
                f"submit {x['submit_s']:.2f} s{', CAPPED' if x['capped'] else ''})"
                for x in e2e["rounds"]
            )
        )
    sub = m.get("submit", {})
    if sub:
        notes.append(
            "submit runs (req/s): tasky "
            + ", ".join(f"{x:.0f}" for x in sub["tasky_runs"])
            + "; bare Flask "
            + ", ".join(f"{x:.0f}" for x in sub["ref_runs"])
        )
    latency = m.get("submit_latency", {})
    for tool in ("wrk", "session"):
        cases = latency.get(tool, {})
        if cases and "skipped" not in cases:
            notes.append(
                f"one connection, {tool} rounds (p50/p99 ms): "
                + "; ".join(
                    f"{case} "
                    + ", ".join(f"{x['p50_ms']:.2f}/{x['p99_ms']:.1f}" for x in got["rounds"])
                    for case, got in cases.items()
                )
            )
    if sc:
        notes.append(
            f"scale: {sc['insert_seconds']:.1f} s wall for the insert (server side "
            f"{sc['insert_server_per_s']:,.0f} tasks/s), SQLite file "
            f"{sc['db_mb']:.0f} MB; RSS "
            + ", ".join(f"{k} {v:.1f} MB" for k, v in rss.items())
            + f"; bare executemany of the same rows {sc['bare_insert_per_s']:,.0f} rows/s"
        )
    if pg.get("e2e_error"):
        notes.append(f"PostgreSQL: Tasky on PostgreSQL did not run: {pg['e2e_error']}")
    notes += pg_notes(pg)
    for key, why in caveats.items():
        notes.append(f"* {key}: {why}")
    for name, why in failures.items():
        notes.append(f"FAILED {name}: {why}")
    return "\n".join([*out, "", *notes])


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
