"""The task commands: ``tasky workers|submit|update|status|show|stats|result|wait|cancel|pause|
resume|run|rm|ls|health|runners``."""

from __future__ import annotations

from typing import Any

import click

from tasky.cli.output import EXIT_NOT_COMPLETED, Output, api_command, record_command
from tasky.cli.params import BACKOFF, CONFIG, DUE, LIMITS, TRIGGER, parse_config
from tasky.client import Client, SubmittedTask

TASK_COLUMNS = ["task_id", "worker", "status", "created_at", "execute_at", "duration"]


@api_command("workers")
@click.argument("name", required=False)
@click.option("--stats", is_flag=True, help="The worker's statistics instead of its description.")
def workers(client: Client, out: Output, name: str | None, stats: bool) -> None:
    """List the workers, or describe one (NAME)."""
    if name is None:
        if stats:
            raise click.UsageError("--stats needs a worker NAME")
        columns = ["name", "enabled", "max_num_tasks", "description"]
        out.rows(client.workers(), columns, "name")
    elif stats:
        out.record(client.worker_statistics(name), "name")
    else:
        out.record(client.worker_info(name), "name")


@api_command("submit")
@click.argument("worker")
@CONFIG
@DUE
@TRIGGER
@LIMITS
@BACKOFF
@click.option("--key", "idempotency_key", metavar="K", help="Idempotency key (default: random).")
@click.option("--wait", "wait", is_flag=True, help="Wait until the task has finished.")
@click.option("--wait-timeout", type=float, metavar="S", help="Give up waiting after S seconds.")
def submit(
    client: Client,
    out: Output,
    worker: str,
    params: tuple[str, ...],
    config: str | None,
    wait: bool,
    wait_timeout: float | None,
    **options: Any,
) -> int | None:
    """Submit a task (or with --cron/--interval a schedule) to WORKER.

    PARAMS set config fields: key=value (a string) or key:=json (a number, true, a list...).
    """
    is_schedule = options["cron"] is not None or options["interval"] is not None
    if wait and is_schedule:
        raise click.UsageError("--wait is for a task, not a schedule")
    if wait_timeout is not None and not wait:
        raise click.UsageError("--wait-timeout needs --wait")
    submitted = client.submit(worker, parse_config(config, params), **options)
    if not isinstance(submitted, SubmittedTask):
        out.record(submitted, "schedule_id")
        return None
    if not wait:
        out.record(submitted, "task_id")
        return None
    return show_finished(client, out, submitted.task_id, wait_timeout)


def show_finished(client: Client, out: Output, task_id: str, timeout: float | None) -> int | None:
    """Wait for the task, print its result; exit 1 unless it completed."""
    client.wait(task_id, timeout)
    result = client.result(task_id)
    out.record(result, "task_id")
    return None if result.status == "completed" else EXIT_NOT_COMPLETED


status = record_command("status", "task_id", Client.status, "task_id", "Show a task's status.")
show = record_command("show", "task_id", Client.task, "task_id", "Show a task's full record.")
stats = record_command(
    "stats",
    "task_id",
    Client.task_statistics,
    "task_id",
    "Show how long a task waited (queued_for), ran (ran_for) and how late it started.",
)
result = record_command(
    "result", "task_id", Client.result, "task_id", "Show a task's result (null until finished)."
)


@api_command("update")
@click.argument("task_id")
@CONFIG
@DUE
@LIMITS
def update(
    client: Client,
    out: Output,
    task_id: str,
    params: tuple[str, ...],
    config: str | None,
    **changes: Any,
) -> None:
    """Change a task that has not started: its config (PARAMS as for submit), time or limits."""
    out.record(client.update(task_id, config=parse_config(config, params), **changes), "task_id")


@api_command("wait")
@click.argument("task_id")
@click.option("--timeout", type=float, metavar="S", help="Give up after S seconds (exit 124).")
def wait(client: Client, out: Output, task_id: str, timeout: float | None) -> int | None:
    """Wait until a task has finished and show its result; exit 1 unless it completed."""
    return show_finished(client, out, task_id, timeout)


cancel = record_command("cancel", "task_id", Client.cancel, "task_id", "Cancel a task.")
pause = record_command("pause", "task_id", Client.pause, "task_id", "Pause a waiting task.")
resume = record_command("resume", "task_id", Client.resume, "task_id", "Resume a paused task.")
run = record_command(
    "run",
    "task_id",
    Client.run,
    "task_id",
    "Run a waiting task now; for a finished one, submit a copy of it.",
)
rm = record_command("rm", "task_id", Client.delete, "task_id", "Delete a finished task.")


@api_command("ls")
@click.option("--status", help="Only tasks in this state.")
@click.option("--worker", help="Only tasks of this worker.")
@click.option("--schedule", "schedule_id", help="Only the runs of this schedule.")
@click.option("--limit", type=int, default=20, show_default=True, help="Tasks per page.")
@click.option("--all", "every", is_flag=True, help="Every page, not only the first.")
def ls(client: Client, out: Output, limit: int, every: bool, **filters: Any) -> None:
    """List tasks, newest first."""
    if every:
        out.rows(client.iter_tasks(page_size=limit, **filters), TASK_COLUMNS, "task_id")
        return
    out.page(client.tasks(limit=limit, **filters), TASK_COLUMNS, "task_id")


@api_command("health")
def health(client: Client, out: Output) -> None:
    """Show the server's health."""
    out.record(client.health(), "status")


@api_command("runners")
def runners(client: Client, out: Output) -> None:
    """List the live runner processes sharing the store."""
    columns = ["runner_id", "host", "pid", "status", "running", "started_at", "heartbeat_at"]
    out.rows(client.runners(), columns, "runner_id")


COMMANDS = [
    workers,
    submit,
    update,
    status,
    show,
    stats,
    result,
    wait,
    cancel,
    pause,
    resume,
    run,
    rm,
    ls,
    health,
    runners,
]
