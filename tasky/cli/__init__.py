"""The ``tasky`` command line: one click group for serving, running and using Tasky."""

from __future__ import annotations

import click

from tasky.cli.serving import runner, serve, version


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Tasky: a REST task runner and scheduler."""


for command in (serve, runner, version):
    cli.add_command(command)
