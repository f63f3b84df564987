"""How the API commands print and fail: one ``Output`` per command and one ``api_command``
decorator that gives each the client, the output options and the exit codes.

Output modes: aligned tables on a terminal, tab-separated rows (with their header) when piped,
``--json`` the API's JSON (NDJSON for lists: one object a line), ``-q`` ids only.

Exit codes: 0 ok; 1 a waited task ended other than ``completed``; 2 usage; 3 the API refused
the request (4xx, 403 included); 4 authentication (401); 5 server unreachable or 5xx; 124 a
wait timed out.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from tasky.client import (
    Client,
    ConnectionFailed,
    ServerError,
    TaskyClientError,
    Unauthorized,
    WaitTimeout,
)
from tasky.client.records import Page, Record

EXIT_NOT_COMPLETED = 1
EXIT_REFUSED = 3
EXIT_AUTH = 4
EXIT_UNREACHABLE = 5
EXIT_TIMEOUT = 124


def exit_code(error: TaskyClientError) -> int:
    if isinstance(error, WaitTimeout):
        return EXIT_TIMEOUT
    if isinstance(error, Unauthorized):
        return EXIT_AUTH
    if isinstance(error, ConnectionFailed | ServerError):
        return EXIT_UNREACHABLE
    return EXIT_REFUSED


def field_errors(errors: Any, prefix: str = "") -> Iterable[str]:
    """``errors`` of an error answer as ``field.path: message`` lines."""
    if isinstance(errors, dict):
        for name, inner in errors.items():
            yield from field_errors(inner, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(errors, list):
        for message in errors:
            yield from field_errors(message, prefix)
    elif errors is not None:
        yield f"{prefix}: {errors}" if prefix else str(errors)


def report(error: TaskyClientError) -> None:
    status = f" ({error.code})" if error.code is not None else ""
    click.echo(f"tasky: {error.message}{status}", err=True)
    for line in field_errors(error.errors):
        click.echo(f"  {line}", err=True)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):  # milliseconds, or three significant digits below one second
        return f"{value:.3f}" if abs(value) >= 1 else f"{value:.3g}"
    if isinstance(value, dict | list | bool):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class Output:
    """Prints records the way the command line asked."""

    def __init__(self, as_json: bool, quiet: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.terminal = sys.stdout.isatty()

    def _table(self, rows: list[list[str]]) -> None:
        if not self.terminal:
            for row in rows:
                click.echo("\t".join(row))
            return
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

    def record(self, data: Record | dict[str, Any], id_field: str | None = None) -> None:
        """One object: its id (``-q``), its JSON, or one ``field value`` line per field."""
        raw = data.raw if isinstance(data, Record) else data
        if self.quiet:
            if id_field is not None:
                click.echo(raw[id_field])
        elif self.as_json:
            click.echo(json.dumps(raw, indent=2 if self.terminal else None, sort_keys=True))
        else:
            self._table([[name, cell(value)] for name, value in raw.items()])

    def rows(self, records: Iterable[Record], columns: list[str], id_field: str) -> None:
        """A list: ids, NDJSON, or a table of ``columns`` (printed as the items arrive)."""
        table: list[list[str]] = [[c.upper() for c in columns]]
        for item in records:
            if self.quiet:
                click.echo(item.raw[id_field])
            elif self.as_json:
                click.echo(json.dumps(item.raw, sort_keys=True))
            else:
                table.append([cell(item.raw.get(c)) for c in columns])
        if not (self.quiet or self.as_json):
            self._table(table)

    def page(self, page: Page[Any], columns: list[str], id_field: str) -> None:
        """One page of a list, with a hint on a terminal when more pages follow."""
        self.rows(page.items, columns, id_field)
        if page.next_cursor is not None and self.terminal and not self.quiet:
            click.echo("(more on the next pages: --all lists them all)", err=True)


def make_client(ctx: click.Context) -> Client:
    url, token = ctx.find_root().params.get("url"), ctx.find_root().params.get("token")
    return Client(url=url, token=token)


def api_command(name: str, **settings: Any) -> Callable[[Callable], click.Command]:
    """The command ``name`` running ``f(client, out, **params)``, with ``--json`` and ``-q``;
    the client's exceptions become a message on stderr and an exit code."""

    def decorate(f: Callable[..., int | None]) -> click.Command:
        @click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
        @click.option("-q", "--quiet", is_flag=True, help="Print ids only.")
        @click.pass_context
        @functools.wraps(f)
        def command(ctx: click.Context, as_json: bool, quiet: bool, **params: Any) -> None:
            with make_client(ctx) as client:
                try:
                    code = f(client, Output(as_json, quiet), **params)
                except TaskyClientError as error:
                    report(error)
                    ctx.exit(exit_code(error))
            ctx.exit(code or 0)

        return click.command(name, **settings)(command)

    return decorate


def record_command(
    name: str, argument: str, call: Callable[[Client, str], Record | None], id_field: str, doc: str
) -> click.Command:
    """The command ``name ARGUMENT`` printing what ``call(client, ARGUMENT)`` answers, if any."""

    @api_command(name, help=doc)
    @click.argument(argument)
    def command(client: Client, out: Output, **params: str) -> None:
        answer = call(client, params[argument])
        if answer is not None:
            out.record(answer, id_field)

    return command
