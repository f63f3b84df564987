"""The client's chain methods (``/tasky/v1/chains``) and the records they return."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from tasky.client.records import Page, Record


@dataclass(frozen=True)
class SubmittedChain(Record):
    """The answer to a chain submit: each step's task id by step name; ``created`` is False
    when an idempotency key matched a stored chain."""

    chain_id: str = ""
    name: str | None = None
    status: str = ""
    steps: dict[str, str] = field(default_factory=dict)
    created: bool = True


@dataclass(frozen=True)
class ChainSummary(Record):
    chain_id: str = ""
    name: str | None = None
    status: str = ""
    failure_policy: str = ""
    created_at: datetime | None = None
    canceled_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Chain(ChainSummary):
    """A chain with its steps: each ``{step, task_id, worker, status, attempts, depends_on,
    run_if, skip_reason, error}``."""

    steps: list[dict[str, Any]] = field(default_factory=list)


class ChainMethods:
    """Mixed into :class:`~tasky.client.Client`, whose ``request`` they call."""

    request: Callable[..., requests.Response]
    _post_retried: Callable[[str, dict[str, Any]], requests.Response]

    def submit_chain(self, chain: dict[str, Any]) -> SubmittedChain | dict[str, Any]:
        """Submit a chain (``{steps, name, idempotency_key, failure_policy}``, as the API
        takes it), all its steps or none. Without an ``idempotency_key`` it gets a random
        one, and is sent again (3 tries in all) when its answer is lost: the server stores
        it once. With ``cron`` or ``interval`` it creates a schedule of the chain, sent once:
        the answer is the schedule's JSON."""
        if "cron" in chain or "interval" in chain:
            return self.request("POST", "/chains", chain).json()
        body = {"idempotency_key": uuid.uuid4().hex, **chain}
        resp = self._post_retried("/chains", body)
        return dataclasses.replace(
            SubmittedChain.from_json(resp.json()), created=resp.status_code == 201
        )

    def chain(self, chain_id: str) -> Chain:
        return Chain.from_json(self.request("GET", f"/chains/{chain_id}").json())

    def chains(
        self, *, name: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[ChainSummary]:
        """One page of chains, newest first."""
        params = {k: v for k, v in {"name": name, "limit": limit, "cursor": cursor}.items() if v}
        answer = self.request("GET", "/chains/", params=params).json()
        items = [ChainSummary.from_json(item) for item in answer["chains"]]
        return Page(items, answer.get("next_cursor"))

    def iter_chains(
        self, *, name: str | None = None, page_size: int | None = None
    ) -> Iterator[ChainSummary]:
        cursor: str | None = None
        while True:
            page = self.chains(name=name, limit=page_size, cursor=cursor)
            yield from page.items
            if (cursor := page.next_cursor) is None:
                return

    def cancel_chain(self, chain_id: str) -> Chain:
        """Cancel every unfinished step; running ones are ``canceling`` until they stop."""
        return Chain.from_json(self.request("POST", f"/chains/{chain_id}/cancel").json())

    def retry_chain(self, chain_id: str) -> Chain:
        """Run again the failed, canceled and skipped steps and what depends on them."""
        path = f"/chains/{chain_id}/actions"
        return Chain.from_json(self.request("POST", path, {"action": "retry"}).json())

    def chain_graph(self, chain_id: str, format: str = "mermaid") -> str:
        """The chain as Mermaid (``mermaid``) or Graphviz (``dot``) text."""
        params = {"format": format}
        return self.request("GET", f"/chains/{chain_id}/graph", params=params).text

    def delete_chain(self, chain_id: str) -> None:
        self.request("DELETE", f"/chains/{chain_id}")
