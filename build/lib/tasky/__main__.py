"""``python -m tasky``: the ``tasky`` command line."""

from tasky.cli import cli

cli()
