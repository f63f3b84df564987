"""Chains: named steps submitted together, read, canceled, retried, drawn and deleted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tasky.chain_runs import chain_run, chain_status
from tasky.errors import ChainNotFound, InvalidInput, NotFound, WorkerDisabled
from tasky.models import Chain, ChainPage, FailurePolicy, Task, TaskState
from tasky.requests import ChainRequest, StepRequest
from tasky.service.base import Part, valid_config
from tasky.service.tasks import new_task
from tasky.service.webhooks import record_callbacks


@dataclass(frozen=True)
class ChainView:
    """A chain with its steps as stored now."""

    chain: Chain
    steps: list[Task]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(str(step.status) for step in self.steps))

    @property
    def status(self) -> str:
        return chain_status(self.counts, self.chain.canceled_at)

    def step_names(self) -> dict[str, str]:
        """Step name by task id."""
        return {step.id: step.step or step.id for step in self.steps}

    def edges(self) -> list[tuple[str, str]]:
        """The chain's edges as (parent, child) step names, one per ``depends_on`` entry:
        what every drawing of the chain shows."""
        names = self.step_names()
        return [(names.get(p, p), names[s.id]) for s in self.steps for p in s.depends_on or ()]

    def layers(self) -> list[list[str]]:
        """Step names by topological layer, left to right as the dashboard draws them: a
        step without parents is in layer 0, any other one layer after its deepest parent.
        Within a layer, steps are ordered by the mean position of their parents (ties in the
        chain's order), which keeps most edges from crossing."""
        names = list(self.step_names().values())
        parents: dict[str, list[str]] = {name: [] for name in names}
        children: dict[str, list[str]] = {name: [] for name in names}
        for parent, child in self.edges():
            if parent in parents:  # not a parent pruned already (retention)
                parents[child].append(parent)
                children[parent].append(child)
        depth = dict.fromkeys(names, 0)
        waiting = {name: len(parents[name]) for name in names}
        ready = [name for name in names if not waiting[name]]
        for name in ready:  # Kahn's order: ready grows while it is read
            for child in children[name]:
                depth[child] = max(depth[child], depth[name] + 1)
                waiting[child] -= 1
                if not waiting[child]:
                    ready.append(child)
        layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in names:
            layers[depth[name]].append(name)
        row = {name: index for index, name in enumerate(names)}  # then: position in its layer

        def place(name: str) -> tuple[float, int]:
            ups = parents[name]
            return (sum(row[p] for p in ups) / len(ups) if ups else 0.0, row[name])

        for layer in layers:  # a parent's layer is placed before its children's
            layer.sort(key=place)
            row.update((name, position) for position, name in enumerate(layer))
        return layers


def chain_template(part: Part, request: ChainRequest, now: float) -> dict[str, Any]:
    """The chain's template (``tasky.chain_runs``), every step checked: ``InvalidInput``
    naming each step at fault (an unknown or disabled worker, a bad config, a duplicate
    name, an unknown dependency, a cycle)."""
    names = {step.step for step in request.steps}
    errors: dict[str, Any] = {}
    steps = []
    for step in request.steps:
        try:
            steps.append(_template_step(part, step, names, now))
        except (InvalidInput, NotFound, WorkerDisabled) as exc:
            errors.setdefault(step.step, exc.errors or {"worker": [exc.message]})
    for name, count in Counter(step.step for step in request.steps).items():
        if count > 1:
            errors[name] = {"step": [f"{count} steps are named {name!r}."]}
    cycle = None if errors else _cycle({s.step: s.task.depends_on or [] for s in request.steps})
    if cycle:
        errors[cycle[0]] = {"depends_on": ["A cycle: " + " → ".join(cycle)]}
    if errors:
        raise InvalidInput("invalid chain", errors={"steps": errors})
    policy = str(FailurePolicy(request.failure_policy))
    return {"name": request.name, "failure_policy": policy, "steps": steps}


def _template_step(part: Part, step: StepRequest, names: set[str], now: float) -> dict[str, Any]:
    worker = part.enabled_worker(step.worker)
    unknown = [name for name in step.task.depends_on or () if name not in names]
    if unknown:
        raise InvalidInput(errors={"depends_on": [f"No step is named {unknown[0]!r}."]})
    new = new_task(worker, step.task, now, "", lambda c: valid_config(worker, c))
    return {
        "step": step.step,
        "worker": worker.name,
        "config": new.config,
        "delay": new.execute_at - now,
        "timeout": new.timeout,
        "max_retries": new.max_retries,
        "retry_backoff": new.retry_backoff,
        "depends_on": new.depends_on or [],
        "run_if": None if new.run_if is None else str(new.run_if),
    }


class Chains(Part):
    def submit(self, request: ChainRequest) -> tuple[ChainView, bool]:
        """All steps or none (see :func:`chain_template`). False when the idempotency key
        matched a stored chain (returned instead)."""
        now = self.clock()
        template = chain_template(self, request, now)
        run = chain_run(template, now, now, idempotency_key=request.idempotency_key)
        record_callbacks(self, [(run.chain.id, request.callback_url)])
        stored, created = self.store.create_chain(run.chain, run.steps)
        if created:
            self.engine.wake()
        return self._view(stored), created

    def get(self, chain_id: str) -> ChainView:
        chain = self.store.get_chain(chain_id)
        if chain is None:
            raise ChainNotFound(f"no chain {chain_id!r}")
        return self._view(chain)

    def list(
        self, limit: int = 100, cursor: str | None = None, name: str | None = None
    ) -> tuple[ChainPage, dict[str, dict[str, int]]]:
        """A page of chains and, per chain, its steps' counts by state."""
        page = self.store.list_chains(limit, cursor, name)
        return page, self.store.chain_counts([chain.id for chain in page.chains])

    def cancel(self, chain_id: str) -> ChainView:
        """Every unfinished step: canceled now, a running one ``canceling`` until it stops."""
        changed = self.store.cancel_chain(chain_id, self.clock())
        for task in changed:
            if task.status is TaskState.CANCELING:
                self.engine.abort(task.id)
        self.engine.ended([task for task in changed if task.status.is_terminal])
        self.engine.wake()
        return self.get(chain_id)

    def retry(self, chain_id: str) -> ChainView:
        self.store.retry_chain(chain_id, self.clock())
        self.engine.wake()
        return self.get(chain_id)

    def delete(self, chain_id: str) -> None:
        self.store.delete_chain(chain_id)

    def graph(self, chain_id: str, fmt: str) -> str:
        """The chain's steps and edges as Mermaid (``mermaid``) or Graphviz (``dot``) text,
        each step labelled with its state."""
        view = self.get(chain_id)
        names = view.step_names()
        edges = view.edges()
        if fmt == "dot":
            lines = ["digraph chain {"]
            lines += [
                f'  "{names[s.id]}" [label="{names[s.id]}\\n{s.status}"];' for s in view.steps
            ]
            lines += [f'  "{parent}" -> "{child}";' for parent, child in edges]
            return "\n".join([*lines, "}"]) + "\n"
        keys = {name: f"s{index}" for index, name in enumerate(names.values())}
        lines = ["graph TD"]
        lines += [f'  {keys[names[s.id]]}["{names[s.id]}: {s.status}"]' for s in view.steps]
        lines += [f"  {keys.get(parent, parent)} --> {keys[child]}" for parent, child in edges]
        return "\n".join(lines) + "\n"

    def _view(self, chain: Chain) -> ChainView:
        return ChainView(chain, self.store.chain_steps(chain.id))


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the steps' dependencies (``graph``: step → the steps it depends on), as
    the path ``[a, b, …, a]``; None when there is none."""
    done: set[str] = set()
    for start in graph:
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(graph.get(start, ())))]
        if start in done:
            continue
        path.append(start)
        on_path.add(start)
        while stack:
            node, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif parent in on_path:
                return [*path[path.index(parent) :], parent]
            elif parent not in done and parent in graph:
                stack.append((parent, iter(graph[parent])))
                path.append(parent)
                on_path.add(parent)
    return None
