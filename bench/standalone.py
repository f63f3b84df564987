"""What the benchmarks run on their own (``python -m bench.chains``, ``bench.webhooks``) share:
their options, the database they measure on, and how they report."""

from __future__ import annotations

import argparse
import json
import os
from contextlib import ExitStack
from pathlib import Path

from bench.pg import ScratchDatabase, local_server


def arguments(doc: str, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument("--pg-local", action="store_true", help="on a throwaway PostgreSQL")
    return parser.parse_args(argv)


def database(stack: ExitStack, pg_local: bool) -> str | None:
    """A scratch PostgreSQL database (on ``TASKY_BENCH_PG_URL``'s server, or a throwaway one
    with ``pg_local``), dropped when ``stack`` closes; None for SQLite."""
    url = os.environ.get("TASKY_BENCH_PG_URL") or None
    if pg_local:
        url = stack.enter_context(local_server())
    return stack.enter_context(ScratchDatabase(url)) if url else None


def report(results: dict, out: Path | None) -> None:
    for key, value in results.items():
        print(f"{key:>16}  {value:.2f}" if isinstance(value, float) else f"{key:>16}  {value}")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
