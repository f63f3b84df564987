"""The ``tasky`` command line: one click group for serving, running and using Tasky."""

from __future__ import annotations

import click

from tasky.cli.backup import export, import_
from tasky.cli.chains import chain
from tasky.cli.schedules import schedule
from tasky.cli.serving import runner, serve, version
from tasky.cli.tasks import COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="TASKY_URL",
    metavar="URL",
    help="The server, default http://127.0.0.1:8888 (env TASKY_URL).",
)
@click.option(
    "--token",
    envvar="TASKY_API_TOKEN",
    metavar="TOKEN",
    help="The bearer token (env TASKY_API_TOKEN).",
)
def cli(url: str | None, token: str | None) -> None:
    """Tasky: a REST task runner and scheduler.

    Exit codes of the API commands: 0 ok; 1 a waited task ended other than completed;
    2 usage; 3 the API refused the request (4xx, 403 included); 4 authentication (401);
    5 server unreachable or 5xx; 124 a wait timed out.
    """


for command in (serve, runner, version, *COMMANDS, schedule, chain, export, import_):
    cli.add_command(command)
