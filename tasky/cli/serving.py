"""``tasky serve``, ``tasky runner``, ``tasky version``: starting Tasky."""

from __future__ import annotations

import click

from tasky import __version__


@click.command()
def version() -> None:
    """Print Tasky's version."""
    click.echo(__version__)


@click.command()
def serve() -> None:
    """Serve the API under gunicorn, with a runner beside each process."""
    raise click.ClickException("not built yet")


@click.command()
def runner() -> None:
    """Run tasks without serving HTTP."""
    raise click.ClickException("not built yet")
