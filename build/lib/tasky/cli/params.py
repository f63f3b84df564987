"""The options that describe a task or a schedule, shared by ``submit``, ``update`` and
``schedule update``, and how a config is read from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def parse_config(config: str | None, pairs: tuple[str, ...]) -> dict[str, Any] | None:
    """The config given: ``--config`` (JSON, or ``@file.json``), then each ``key=value`` (a
    string) or ``key:=json`` (any JSON value) on top of it; None when none was given."""
    result: dict[str, Any] = {}
    if config is not None:
        try:
            text = Path(config[1:]).read_text() if config.startswith("@") else config
            result = json.loads(text)
        except (OSError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="--config") from exc
        if not isinstance(result, dict):
            raise click.BadParameter("not a JSON object", param_hint="--config")
    for pair in pairs:
        key, json_sep, value = pair.partition(":=")
        if json_sep and "=" not in key:
            try:
                result[key] = json.loads(value)
            except ValueError as exc:
                raise click.BadParameter(f"{pair!r}: not JSON after ':='") from exc
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: give key=value or key:=json")
        result[key] = value
    return result if (result or config is not None) else None


def combine(*decorators: Decorator) -> Decorator:
    def apply(f: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


CONFIG = combine(
    click.argument("params", nargs=-1),
    click.option("--config", help="The config as JSON, or @FILE holding it."),
)
DUE = combine(
    click.option("--at", "execute_at", metavar="TIME", help="Run at this ISO-8601 time."),
    click.option("--delay", type=float, metavar="S", help="Run after S seconds."),
)
LIMITS = combine(
    click.option("--timeout", type=float, metavar="S", help="Stop a run after S seconds."),
    click.option(
        "--retries", "max_retries", type=int, metavar="N", help="Retry a failure N times."
    ),
)
BACKOFF = click.option(
    "--retry-backoff", type=float, metavar="S", help="Base seconds of the retry backoff."
)
TRIGGER = combine(
    click.option("--cron", metavar="EXPR", help="A schedule on this cron expression."),
    click.option("--interval", type=float, metavar="S", help="A schedule firing every S seconds."),
    click.option("--timezone", metavar="TZ", help="The IANA zone of --cron."),
    click.option("--start", "start_at", metavar="TIME", help="The schedule's first possible run."),
    click.option("--end", "end_at", metavar="TIME", help="The schedule's last possible run."),
    click.option("--overlap", type=click.Choice(["skip", "allow"]), help="Runs may overlap?"),
    click.option(
        "--misfire", type=click.Choice(["run_once", "skip"]), help="After downtime: catch up?"
    ),
)
