"""``tasky schedule ls|update|show|pause|resume|run|rm``."""

from __future__ import annotations

from typing import Any

import click

from tasky.cli.output import Output, api_command, record_command
from tasky.cli.params import BACKOFF, CONFIG, LIMITS, TRIGGER, parse_config
from tasky.client import Client

SCHEDULE_COLUMNS = ["schedule_id", "worker", "status", "cron", "interval", "next_run_at", "runs"]


@click.group("schedule")
def schedule() -> None:
    """List and change schedules (tasky submit --cron|--interval creates one)."""


@api_command("ls")
@click.option("--limit", type=int, default=20, show_default=True, help="Schedules per page.")
@click.option("--all", "every", is_flag=True, help="Every page, not only the first.")
def ls(client: Client, out: Output, limit: int, every: bool) -> None:
    """List schedules."""
    if every:
        out.rows(client.iter_schedules(page_size=limit), SCHEDULE_COLUMNS, "schedule_id")
        return
    out.page(client.schedules(limit=limit), SCHEDULE_COLUMNS, "schedule_id")


@api_command("update")
@click.argument("schedule_id")
@CONFIG
@TRIGGER
@LIMITS
@BACKOFF
def update(
    client: Client,
    out: Output,
    schedule_id: str,
    params: tuple[str, ...],
    config: str | None,
    **options: Any,
) -> None:
    """Change a schedule's trigger, config (PARAMS as for submit) or options; a new trigger
    recomputes its next run."""
    changes = {name: value for name, value in options.items() if value is not None}
    new_config = parse_config(config, params)
    if new_config is not None:
        changes["config"] = new_config
    if not changes:
        raise click.UsageError("nothing to change")
    out.record(client.update_schedule(schedule_id, **changes), "schedule_id")


show = record_command("show", "schedule_id", Client.schedule, "schedule_id", "Show a schedule.")
pause = record_command(
    "pause", "schedule_id", Client.pause_schedule, "schedule_id", "Stop a schedule from firing."
)
resume = record_command(
    "resume",
    "schedule_id",
    Client.resume_schedule,
    "schedule_id",
    "Let a paused schedule fire again, from its next tick.",
)
run = record_command(
    "run",
    "schedule_id",
    Client.run_schedule,
    "task_id",
    "Fire a schedule once now; shows the task it created.",
)
rm = record_command(
    "rm",
    "schedule_id",
    Client.delete_schedule,
    "schedule_id",
    "Delete a schedule (its runs that have not started are canceled).",
)


for command in (ls, update, show, pause, resume, run, rm):
    schedule.add_command(command)
