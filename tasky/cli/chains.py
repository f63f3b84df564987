"""``tasky chain submit|ls|show|cancel|retry|graph|rm``."""

from __future__ import annotations

import json
from typing import IO

import click

from tasky.cli.output import Output, api_command, record_command
from tasky.client import Client
from tasky.client.records import Record

CHAIN_COLUMNS = ["chain_id", "name", "status", "created_at", "counts"]
STEP_COLUMNS = ["step", "task_id", "worker", "status", "attempts", "skip_reason"]


@click.group("chain")
def chain() -> None:
    """Submit, watch and control chains: named steps that depend on each other."""


@api_command("submit")
@click.argument("file", type=click.File("r"))
def submit(client: Client, out: Output, file: IO[str]) -> None:
    """Submit the chain in FILE (JSON: {"steps": [...], "name", "failure_policy",
    "idempotency_key"}, as POST /tasky/v1/chains takes it; - reads stdin)."""
    try:
        body = json.load(file)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="FILE") from None
    if not isinstance(body, dict):
        raise click.BadParameter("the chain must be a JSON object", param_hint="FILE")
    out.record(client.submit_chain(body), "chain_id")


@api_command("ls")
@click.option("--name", help="Only the chains of this name.")
@click.option("--limit", type=int, default=20, show_default=True, help="Chains per page.")
@click.option("--all", "every", is_flag=True, help="Every page, not only the first.")
def ls(client: Client, out: Output, name: str | None, limit: int, every: bool) -> None:
    """List chains, newest first."""
    if every:
        out.rows(client.iter_chains(name=name, page_size=limit), CHAIN_COLUMNS, "chain_id")
        return
    out.page(client.chains(name=name, limit=limit), CHAIN_COLUMNS, "chain_id")


def _show(out: Output, answer: Record) -> None:
    """A chain: its fields, then a table of its steps."""
    if out.as_json or out.quiet:
        out.record(answer, "chain_id")
        return
    out.record({k: v for k, v in answer.raw.items() if k not in ("steps", "layers")})
    click.echo()
    out.rows([Record(raw=s) for s in answer.raw["steps"]], STEP_COLUMNS, "task_id")


@api_command("show")
@click.argument("chain_id")
def show(client: Client, out: Output, chain_id: str) -> None:
    """Show a chain and its steps."""
    _show(out, client.chain(chain_id))


@api_command("cancel")
@click.argument("chain_id")
def cancel(client: Client, out: Output, chain_id: str) -> None:
    """Cancel every unfinished step (running ones stop within a second)."""
    _show(out, client.cancel_chain(chain_id))


@api_command("retry")
@click.argument("chain_id")
def retry(client: Client, out: Output, chain_id: str) -> None:
    """Run again the failed, canceled and skipped steps and what depends on them."""
    _show(out, client.retry_chain(chain_id))


@api_command("graph")
@click.argument("chain_id")
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True
)
def graph(client: Client, out: Output, chain_id: str, fmt: str) -> None:
    """Print the chain's steps and edges as Mermaid or Graphviz (dot) text."""
    click.echo(client.chain_graph(chain_id, fmt), nl=False)


rm = record_command(
    "rm", "chain_id", Client.delete_chain, "chain_id", "Delete a finished chain and its steps."
)

for command in (submit, ls, show, cancel, retry, graph, rm):
    chain.add_command(command)
