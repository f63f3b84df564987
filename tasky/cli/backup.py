"""``tasky export`` and ``tasky import``: a backup of a server's store to a file, and its
restore, both streamed (a file of any size, in bounded memory).

They call the API through the client (its server, token and errors), reading and sending
the bodies a chunk at a time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import requests

from tasky.cli.output import EXIT_REFUSED, Output, api_command
from tasky.client import Client, ConnectionFailed

CHUNK = 1 << 16
MEDIA_TYPE = "application/x-ndjson"


def _call(client: Client, method: str, path: str, **options: Any) -> requests.Response:
    """A streamed call: its body is read as it comes, however long it takes."""
    return client.request(method, path, stream=True, timeout=(client.timeout, None), **options)


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
    with _call(client, "GET", "/export") as resp:
        if output == "-":
            written = _copy(resp.iter_content(CHUNK), sys.stdout.buffer)
        else:
            partial = Path(output + ".partial")
            with open(partial, "wb") as file:
                written = _copy(resp.iter_content(CHUNK), file)
            partial.replace(output)  # a broken download leaves no file that looks whole
    if not out.quiet and output != "-":
        click.echo(f"{output}: {written} bytes", err=True)


def _copy(chunks: Iterator[bytes], file: IO[bytes]) -> int:
    written = 0
    try:
        for chunk in chunks:
            file.write(chunk)
            written += len(chunk)
    except requests.RequestException as exc:
        raise ConnectionFailed(f"the export broke off after {written} bytes ({exc})") from exc
    file.flush()
    return written


@api_command("import")
@click.argument("file", type=click.File("rb"))
def import_(client: Client, out: Output, file: IO[bytes]) -> int | None:
    """Restore an export (FILE, '-' for standard input) into the server: into an empty
    store, or beside what it holds (ids it holds already are skipped). Exits with 3 when
    lines were rejected."""
    headers = {"Content-Type": MEDIA_TYPE}
    with _call(client, "POST", "/import", data=_chunks(file), headers=headers) as resp:
        report = resp.json()
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


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    """The file a chunk at a time: sent chunked, whatever its size or kind (a pipe too)."""
    while chunk := file.read(CHUNK):
        yield chunk
