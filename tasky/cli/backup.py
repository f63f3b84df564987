"""``tasky export`` and ``tasky import``: a backup of a server's store to a file, and its
restore, both streamed (a file of any size, in bounded memory).

They call the client's ``export`` and ``import_``, which read and send the bodies a chunk
at a time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click

from tasky.cli.output import EXIT_REFUSED, Output, api_command
from tasky.client import Client


@api_command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="The file to write ('-': standard output).",
)
def export(client: Client, out: Output, output: str) -> None:
    """Back up every schedule and task of the server: one consistent snapshot, as NDJSON,
    taken while the server keeps serving."""
    if output == "-":
        written = client.export(sys.stdout.buffer)
    else:
        partial = Path(output + ".partial")
        try:
            with open(partial, "wb") as file:
                written = client.export(file)
        except BaseException:  # a refused or broken export leaves no file at all
            partial.unlink(missing_ok=True)
            raise
        partial.replace(output)  # only a whole export gets the name
    if not out.quiet and output != "-":
        click.echo(f"{output}: {written} bytes", err=True)


@api_command("import")
@click.argument("file", type=click.File("rb"))
def import_(client: Client, out: Output, file: IO[bytes]) -> int | None:
    """Restore an export (FILE, '-' for standard input) into the server: into an empty
    store, or beside what it holds (ids it holds already are skipped). Exits with 3 when
    lines were rejected."""
    report = client.import_(file)
    if out.as_json or out.quiet:
        out.record(report)
    else:
        imported, skipped = report["imported"], report["skipped"]
        click.echo(
            f"imported {imported['schedules']} schedules, {imported['tasks']} tasks; "
            f"skipped {skipped['schedules']} schedules, {skipped['tasks']} tasks (already "
            f"there); rejected {report['rejected']} lines; "
            f"{report['recovered']} running tasks recovered"
        )
        for line in report["rejected_lines"]:
            click.echo(f"  line {line['line']}: {line['message']}", err=True)
        if report["rejected"] > len(report["rejected_lines"]):
            click.echo(f"  ... ({report['rejected']} in all)", err=True)
    return EXIT_REFUSED if report["rejected"] else None
